// engram's input and output: IDX datasets (zlib) and PNG image grids (stb_image_write).
// Link the engram::io target, which brings zlib and stb.
#pragma once

#include "engram/io/idx.hpp"
#include "engram/io/memory_file.hpp"
#include "engram/io/png.hpp"
