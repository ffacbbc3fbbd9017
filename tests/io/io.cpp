// IO: IDX round trips in every element type, gzip and plain, malformed and truncated files,
// Fashion-MNIST when installed, and PNG grids.
#include <stb_image.h>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "catch.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using Index = Eigen::Index;
using engram::io::idx_type;

using engram_test::scratch_dir;
using engram_test::write_bytes;

TEST_CASE("IDX files round trip in every element type", "[io][idx]") {
  scratch_dir dir("idx_roundtrip");
  Eigen::MatrixXd items(6, 4);
  for (Index j = 0; j < 4; ++j)
    for (Index i = 0; i < 6; ++i) items(i, j) = double(10 * j + i);
  for (auto type :
       {idx_type::u8, idx_type::i8, idx_type::i16, idx_type::i32, idx_type::f32, idx_type::f64})
    for (bool gzip : {false, true}) {
      const fs::path p = dir.path / ("items" + std::to_string(int(type)) + (gzip ? ".gz" : ""));
      engram::io::write_idx(p, items, {2, 3}, type, gzip);
      CHECK_FALSE(fs::exists(p.string() + ".part"));
      const auto h = engram::io::read_idx_header(p);
      CHECK(h.type == type);
      CHECK(h.shape == std::vector<std::uint32_t>{4, 2, 3});
      CHECK(engram::io::read_idx<double>(p) == items);
      CHECK(engram::io::read_idx<float>(p, 2) == items.leftCols(2).cast<float>());
    }
  // Negative values survive every signed type, fractions the floating ones, and the extremes
  // of each integer type round trip.
  Eigen::MatrixXd negative(1, 3);
  negative << -7, -128, 100;
  for (auto type : {idx_type::i8, idx_type::i16, idx_type::i32, idx_type::f32, idx_type::f64}) {
    const fs::path p = dir.path / ("negative" + std::to_string(int(type)));
    engram::io::write_idx(p, negative, {1}, type);
    CHECK(engram::io::read_idx<double>(p) == negative);
  }
  Eigen::MatrixXd extremes(2, 1);
  extremes << -2147483648.0, 2147483647.0;
  engram::io::write_idx(dir.path / "i32", extremes, {2}, idx_type::i32);
  CHECK(engram::io::read_idx<double>(dir.path / "i32") == extremes);
  Eigen::MatrixXd fractions(1, 2);
  fractions << 0.25, -1.5;
  engram::io::write_idx(dir.path / "f32", fractions, {1}, idx_type::f32);
  CHECK(engram::io::read_idx<double>(dir.path / "f32") == fractions);
}

TEST_CASE("IDX reader reports malformed and truncated files", "[io][idx][errors]") {
  scratch_dir dir("idx_bad");
  const auto message_for = [](const fs::path& p) -> std::string {
    try {
      engram::io::read_idx<float>(p);
    } catch (const engram::parse_error& e) {
      return e.what();
    }
    return "no parse_error";
  };
  const fs::path missing = dir.path / "missing.idx";
  CHECK_THROWS_AS(engram::io::read_idx<float>(missing), engram::io_error);

  write_bytes(dir.path / "magic", {1, 0, 8, 1, 0, 0, 0, 1, 5});
  CHECK(message_for(dir.path / "magic").find("not an IDX file") != std::string::npos);
  write_bytes(dir.path / "type", {0, 0, 7, 1, 0, 0, 0, 1, 5});
  CHECK(message_for(dir.path / "type").find("unknown IDX type code 7") != std::string::npos);
  write_bytes(dir.path / "rank", {0, 0, 8, 0});
  CHECK(message_for(dir.path / "rank").find("rank 0") != std::string::npos);
  write_bytes(dir.path / "short_header", {0, 0, 8, 2, 0, 0});
  CHECK(message_for(dir.path / "short_header").find("truncated") != std::string::npos);
  write_bytes(dir.path / "short_data", {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4});
  const auto short_msg = message_for(dir.path / "short_data");
  CHECK(short_msg.find("truncated") != std::string::npos);
  CHECK(short_msg.find("item 1 of 2") != std::string::npos);
  // A header that declares 60000 x 65535 x 65535 bytes but holds none is refused by the size
  // limit before any allocation; under a raised limit it is found truncated, still before an
  // allocation of that size (the result grows as data arrives).
  write_bytes(dir.path / "huge",
              {0, 0, 8, 3, 0, 0, 0xEA, 0x60, 0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF});
  REQUIRE_THROWS_AS(engram::io::read_idx<float>(dir.path / "huge"), engram::invalid_argument);
  try {
    engram::io::read_idx<float>(dir.path / "huge", -1, {.max_values = std::uint64_t(1) << 62});
    FAIL("no error");
  } catch (const engram::parse_error& e) {
    CHECK(std::string(e.what()).find("truncated") != std::string::npos);
  }
  write_bytes(dir.path / "empty", {});
  CHECK(message_for(dir.path / "empty").find("truncated") != std::string::npos);

  // A gzip stream cut in half is reported, not read as garbage.
  Eigen::MatrixXd items = Eigen::MatrixXd::Constant(100, 10, 3.0);
  const fs::path gz = dir.path / "cut.gz";
  engram::io::write_idx(gz, items, {100}, idx_type::f64, true);
  fs::resize_file(gz, fs::file_size(gz) / 2);
  CHECK_THROWS_AS(engram::io::read_idx<double>(gz), engram::parse_error);

  // Image and label readers check the type and rank they promise.
  engram::io::write_idx(dir.path / "floats", items, {100}, idx_type::f32);
  CHECK_THROWS_AS(engram::io::read_idx_images<float>(dir.path / "floats"), engram::parse_error);
  CHECK_THROWS_AS(engram::io::read_idx_labels(dir.path / "floats"), engram::parse_error);
}

TEST_CASE("IDX writer rejects bad input and leaves nothing behind", "[io][idx][errors]") {
  scratch_dir dir("idx_write");
  Eigen::MatrixXd items = Eigen::MatrixXd::Ones(4, 2);
  CHECK_THROWS_AS(engram::io::write_idx(dir.path / "a", items, {3}, idx_type::u8),
                  engram::dimension_mismatch);
  items(1, 1) = std::nan("");
  CHECK_THROWS_AS(engram::io::write_idx(dir.path / "b", items, {4}, idx_type::u8),
                  engram::not_finite);
  // Values an integer type cannot hold are refused, not wrapped.
  const Eigen::MatrixXd too_big = Eigen::MatrixXd::Constant(4, 1, 256.0);
  try {
    engram::io::write_idx(dir.path / "c", too_big, {4}, idx_type::u8);
    FAIL("no exception");
  } catch (const engram::invalid_argument& e) {
    CHECK(std::string(e.what()) ==
          "items has 256 at (0, 0), which IDX type code 8 cannot hold: it takes integers in [0, "
          "255]");
  }
  CHECK_THROWS_AS(engram::io::write_idx(dir.path / "d", Eigen::MatrixXd::Constant(4, 1, 0.5), {4},
                                        idx_type::i16),
                  engram::invalid_argument);
  CHECK_THROWS_AS(
      engram::io::write_idx(dir.path / "no" / "such" / "dir", items.leftCols(1), {4}, idx_type::u8),
      engram::io_error);
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("Fashion-MNIST reads when installed", "[io][idx][fashion-mnist]") {
  const fs::path dir = ENGRAM_FASHION_MNIST_DIR;
  if (!fs::exists(dir / "t10k-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    return;
  }
  const auto h = engram::io::read_idx_header(dir / "t10k-images-idx3-ubyte.gz");
  CHECK(h.shape == std::vector<std::uint32_t>{10000, 28, 28});
  const Eigen::MatrixXf images =
      engram::io::read_idx_images<float>(dir / "t10k-images-idx3-ubyte.gz");
  REQUIRE(images.rows() == 784);
  REQUIRE(images.cols() == 10000);
  CHECK(images.minCoeff() == 0.f);
  CHECK(images.maxCoeff() == 1.f);
  const Eigen::VectorXi labels = engram::io::read_idx_labels(dir / "t10k-labels-idx1-ubyte.gz");
  REQUIRE(labels.size() == 10000);
  CHECK(labels.minCoeff() == 0);
  CHECK(labels.maxCoeff() == 9);
  // The test set is balanced: 1000 images of each of the 10 classes.
  for (int c = 0; c < 10; ++c) CHECK((labels.array() == c).count() == 1000);
  CHECK(engram::io::read_idx_images<float>(dir / "t10k-images-idx3-ubyte.gz", 3) ==
        images.leftCols(3));
}

TEST_CASE("PNG grids hold the images in place", "[io][png]") {
  scratch_dir dir("png");
  Eigen::MatrixXd images(6, 3);  // three 2 x 3 images
  images << 0, 0.5, 1,           //
      1, 0.5, 0,                 //
      0, 0.5, 1,                 //
      1, 0.5, 0,                 //
      0, 0.5, 1,                 //
      1, 0.5, 2;                 // 2 is clipped to white
  const fs::path p = dir.path / "grid.png";
  engram::io::write_png_grid(p, images,
                             {.height = 2, .width = 3, .columns = 2, .padding = 1, .zoom = 2});
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load(p.string().c_str(), &w, &h, &channels, 1);
  REQUIRE(data != nullptr);
  // 2 columns of 6-pixel-wide images + 3 paddings; 2 rows of 4-pixel-high images + 3 paddings.
  CHECK(w == 2 * 6 + 3);
  CHECK(h == 2 * 4 + 3);
  const auto at = [&](int x, int y) { return int(data[y * w + x]); };
  CHECK(at(0, 0) == 64);   // background
  CHECK(at(1, 1) == 0);    // image 0, pixel (0, 0)
  CHECK(at(2, 2) == 0);    // the same pixel, zoomed
  CHECK(at(3, 1) == 255);  // image 0, pixel (0, 1)
  CHECK(at(8, 1) == 128);  // image 1, pixel (0, 0) = 0.5
  CHECK(at(1, 6) == 255);  // image 2, pixel (0, 0)
  CHECK(at(5, 8) == 255);  // image 2, pixel (1, 2) = 2, clipped
  stbi_image_free(data);

  CHECK_THROWS_AS(engram::io::write_png_grid(p, images, {.height = 2, .width = 2}),
                  engram::dimension_mismatch);
  CHECK_THROWS_AS(engram::io::write_png_grid(dir.path / "x.png", images,
                                             {.height = 2, .width = 3, .lo = 1, .hi = 1}),
                  engram::invalid_argument);
  CHECK_THROWS_AS(
      engram::io::write_png_grid(dir.path / "missing" / "x.png", images, {.height = 2, .width = 3}),
      engram::io_error);
  CHECK_FALSE(fs::exists(dir.path / "x.png"));
}
