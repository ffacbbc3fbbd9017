// Catch2 v3 when installed, otherwise Debian's Catch2 2.13: the tests use only what both share.
#pragma once
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
