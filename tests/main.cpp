// The Catch2 v2 test runner's main(); with Catch2 v3 the tests link Catch2WithMain instead.
#define CATCH_CONFIG_MAIN
#include "catch.hpp"
