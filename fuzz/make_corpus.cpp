// Writes the seed corpus of the fuzz targets (fuzz/corpus/): small valid files of every kind
// the readers take, from which the fuzzer mutates. Run from the repository root:
//   g++ -std=c++20 -Iinclude -I/usr/include/eigen3 -I/usr/include/stb fuzz/make_corpus.cpp -lz
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <filesystem>

int main() {
  namespace io = engram::io;
  const std::filesystem::path idx = "fuzz/corpus/idx_reader", mem = "fuzz/corpus/memory_file";
  std::filesystem::create_directories(idx);
  std::filesystem::create_directories(mem);
  Eigen::MatrixXd images(4, 3);
  images << 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255;
  io::write_idx(idx / "images_u8.idx", images, {2, 2}, io::idx_type::u8);
  io::write_idx(idx / "images_u8.idx.gz", images, {2, 2}, io::idx_type::u8, true);
  io::write_idx(idx / "labels_u8.idx", Eigen::MatrixXd::Constant(1, 5, 3.0), {}, io::idx_type::u8);
  io::write_idx(idx / "values_f64.idx", images / 7.0, {4}, io::idx_type::f64);
  io::write_idx(idx / "values_i16.idx.gz", images - Eigen::MatrixXd::Constant(4, 3, 100.0), {4},
                io::idx_type::i16, true);

  const Eigen::MatrixXd xi = images.topRows(2) / 255.0;
  engram::dense_memory<double> dense(xi);
  io::save_memory(mem / "dense_double.mem", dense);
  engram::dense_memory<float> dense_float(xi.cast<float>());
  io::save_memory(mem / "dense_float_params.mem", dense_float,
                  engram::dense_params<float>{.beta = 4, .eps = 0.01f});
  using sincos = engram::random_features<engram::sincos_features, double>;
  engram::distributed_memory<engram::sincos_features, double> drawn(sincos(2, 4, 2.0, 7), xi);
  io::save_memory(mem / "sincos_double.mem", drawn, io::drdam_params<double>{.eps = 1e-5});
  // A memory that keeps its readout tensor R (byte 21 = 1, R follows T): D = 3, Y = 4.
  engram::distributed_memory<engram::sincos_features, double> with_readout(
      sincos(3, 4, 2.0, 8), images.topRows(3) / 255.0, engram::readout::keep);
  io::save_memory(mem / "sincos_readout_double.mem", with_readout);
  Eigen::MatrixXf omega(3, 2);
  omega << 1, 0, 0, 1, 1, 1;
  const Eigen::VectorXf bias = Eigen::VectorXf::LinSpaced(3, 0.5f, 1.5f);
  using cos = engram::random_features<engram::cos_features, float>;
  engram::distributed_memory<engram::cos_features, float> user(
      cos(engram::gaussian_projection<float>(omega, bias), 2.0f), xi.cast<float>());
  io::save_memory(mem / "cos_user_float.mem", user);
  engram::distributed_memory<engram::quadratic_features<double>, double> quadratic(
      engram::quadratic_features<double>(1.5), xi);
  io::save_memory(mem / "quadratic_double.mem", quadratic);
}
