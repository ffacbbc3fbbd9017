# Finds BLIS (Debian: libblis-dev) and defines the imported target BLIS::BLIS.
# Sets BLIS_FOUND, BLIS_INCLUDE_DIR (the folder of blis.h) and BLIS_LIBRARY. Debian installs the
# header per threading variant (blis-openmp, blis-pthread, blis-serial) under the multiarch
# include folder; engram sets the thread count of every call itself, so any variant serves.
find_library(BLIS_LIBRARY NAMES blis)
find_path(BLIS_INCLUDE_DIR blis.h
  PATH_SUFFIXES blis
                ${CMAKE_LIBRARY_ARCHITECTURE}/blis-openmp
                ${CMAKE_LIBRARY_ARCHITECTURE}/blis-pthread
                ${CMAKE_LIBRARY_ARCHITECTURE}/blis-serial)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(BLIS REQUIRED_VARS BLIS_LIBRARY BLIS_INCLUDE_DIR)
if(BLIS_FOUND AND NOT TARGET BLIS::BLIS)
  add_library(BLIS::BLIS UNKNOWN IMPORTED)
  set_target_properties(BLIS::BLIS PROPERTIES
    IMPORTED_LOCATION "${BLIS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${BLIS_INCLUDE_DIR}")
endif()
mark_as_advanced(BLIS_LIBRARY BLIS_INCLUDE_DIR)
