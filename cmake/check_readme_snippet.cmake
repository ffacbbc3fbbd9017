# Fails unless README.md quotes SOURCE verbatim, so the README's snippet is the code CI builds.
file(READ ${README} readme)
file(READ ${SOURCE} source)
string(FIND "${readme}" "${source}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md does not quote ${SOURCE} verbatim; copy the file into it")
endif()
