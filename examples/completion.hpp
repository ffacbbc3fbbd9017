// What image_completion and sharded_retrieval share: Fashion-MNIST's class names, the seeded
// choice of stored and query images, and the stored image nearest each completion.
#pragma once

#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <vector>

namespace example {

inline constexpr std::array<const char*, 10> class_names = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// `count` distinct indices of 0..n-1 chosen by the seed (a partial Fisher-Yates shuffle
// driven by one Philox stream).
inline std::vector<Eigen::Index> choose(Eigen::Index n, Eigen::Index count,
                                        const engram::philox_source& rng, std::uint64_t stream) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index(0));
  for (Eigen::Index i = 0; i < count; ++i) {
    const auto span = double(n - i);
    const auto j = i + std::min<Eigen::Index>(
                           Eigen::Index(rng.uniform<double>(stream, std::uint64_t(i)) * span),
                           Eigen::Index(span) - 1);
    std::swap(order[std::size_t(i)], order[std::size_t(j)]);
  }
  order.resize(static_cast<std::size_t>(count));
  return order;
}

// For each column of `states`, the column of `stored` nearest in Euclidean distance.
inline std::vector<Eigen::Index> nearest(const Eigen::MatrixXf& stored,
                                         const Eigen::MatrixXf& states) {
  const Eigen::VectorXf norms = stored.colwise().squaredNorm().transpose();
  const Eigen::MatrixXf dots = stored.transpose() * states;  // K x M
  std::vector<Eigen::Index> out(static_cast<std::size_t>(states.cols()));
  for (Eigen::Index b = 0; b < states.cols(); ++b)
    (norms - 2 * dots.col(b)).minCoeff(&out[std::size_t(b)]);
  return out;
}

// The columns `which` of `m`, in that order.
inline Eigen::MatrixXf columns_of(const Eigen::MatrixXf& m,
                                  const std::vector<Eigen::Index>& which) {
  Eigen::MatrixXf out(m.rows(), Eigen::Index(which.size()));
  for (std::size_t j = 0; j < which.size(); ++j) out.col(Eigen::Index(j)) = m.col(which[j]);
  return out;
}

// grid.png: blocks of up to 20 queries, each block one row of images per matrix of `rows`
// (occluded, retrieved, [DrDAM retrieved,] nearest stored, original), pixels divided by
// `scale`; at most 100 queries are drawn. Returns how many were.
inline Eigen::Index write_completion_grid(const std::filesystem::path& png,
                                          const std::vector<Eigen::MatrixXf>& rows, float scale) {
  constexpr Eigen::Index per_block = 20, most_drawn = 100;
  const Eigen::Index dim = rows.front().rows(), count = rows.front().cols();
  const Eigen::Index drawn = std::min<Eigen::Index>(count, most_drawn);
  const Eigen::Index columns = std::min(drawn, per_block), n = Eigen::Index(rows.size());
  const Eigen::Index blocks = (drawn + columns - 1) / columns;
  Eigen::MatrixXf grid = Eigen::MatrixXf::Constant(dim, blocks * n * columns, 1.f);
  for (Eigen::Index q = 0; q < drawn; ++q) {
    const Eigen::Index base = (q / columns) * n * columns + q % columns;
    for (Eigen::Index r = 0; r < n; ++r)
      grid.col(base + columns * r) = rows[std::size_t(r)].col(q) / scale;
  }
  engram::io::write_png_grid(png, grid, {.columns = columns, .zoom = 2});
  return drawn;
}

}  // namespace example
