// Memories sharded over MPI ranks (engram/distributed), run by ctest under mpirun -np 1, 2 and
// 4: energies, gradients, supports and retrievals against one process holding the whole
// memory, the same on every rank to the bit; DrDAM's tensor summed over ranks; and every
// kind of bad input raising a typed error on every rank, none left waiting.
//
// Every rank runs every test case in the same order, and the cases are collective: each rank
// builds the same data from the same seeds and takes its own slice of the patterns.
#include <engram/distributed.hpp>
#include <engram/engram.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#define CATCH_CONFIG_RUNNER
#include "catch.hpp"
#include "support/support.hpp"

using Index = Eigen::Index;
namespace dist = engram::distributed;
namespace stop = engram::stop;

namespace {

// The world communicator of the run, with a timeout short enough that ranks that part ways in
// a failing test raise instead of waiting for ctest's limit.
std::unique_ptr<dist::communicator> world_comm;
dist::communicator& world() {
  return *world_comm;
}

// The first and one-past-last pattern of rank r's slice of K patterns: uneven slices (rank r
// gets about (r + 1) shares), with rank 1 empty when `empty_rank_1` and there are two ranks
// or more.
std::pair<Index, Index> slice(Index k, int r, int p, bool empty_rank_1 = false) {
  std::vector<Index> weight(static_cast<std::size_t>(p));
  for (int q = 0; q < p; ++q) weight[std::size_t(q)] = (empty_rank_1 && q == 1) ? 0 : q + 1;
  Index total = 0;
  for (Index w : weight) total += w;
  Index begin = 0;
  for (int q = 0; q < r; ++q) begin += k * weight[std::size_t(q)] / total;
  const Index end = r == p - 1 ? k : begin + k * weight[std::size_t(r)] / total;
  return {begin, end};
}

template <class Scalar>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> my_slice(
    const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>& all, bool empty_rank_1 = false) {
  const auto [b, e] = slice(all.cols(), world().rank(), world().size(), empty_rank_1);
  return all.middleCols(b, e - b);
}

// A hash of the bytes of a matrix, compared across ranks: bitwise the same everywhere.
template <class Derived>
std::int64_t bytes_hash(const Eigen::DenseBase<Derived>& m) {
  const Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> copy = m;
  std::uint64_t h = 1469598103934665603ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(copy.data());
  for (std::size_t i = 0; i < std::size_t(copy.size()) * sizeof(typename Derived::Scalar); ++i)
    h = (h ^ bytes[i]) * 1099511628211ull;
  return std::int64_t(h >> 1);
}

template <class Derived>
bool same_on_every_rank(const Eigen::DenseBase<Derived>& m) {
  const auto [low, high] = world().range(bytes_hash(m));
  return low == high;
}

template <class Scalar>
using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

// Relative agreement with one process: the ranks combine partial states in another order than
// one process's memory tiles, so sums of a few dozen terms round differently in the last bits.
template <class Scalar>
double tolerance() {
  return std::is_same_v<Scalar, float> ? 2e-5 : 1e-12;
}

template <class Energy, class Scalar>
void check_against_one_process(const Mat<Scalar>& xi, const Mat<Scalar>& x, Scalar beta,
                               bool empty_rank_1) {
  engram::dense_memory<Scalar> whole(xi);
  const Energy one(whole, beta);
  const auto expected = one.value_and_gradient(x);

  const Mat<Scalar> shard = my_slice(xi, empty_rank_1);
  dist::sharded_memory<Scalar> memory(world(), shard);
  REQUIRE(memory.size() == xi.cols());
  const dist::sharded_energy<Energy> energy(memory, beta);
  const auto got = energy.value_and_gradient(x);
  const double tol = tolerance<Scalar>();
  for (Index b = 0; b < x.cols(); ++b) {
    INFO("column " << b << " rank " << world().rank() << " of " << world().size());
    CHECK(std::abs(double(got.value(b)) - double(expected.value(b))) <=
          tol * std::max(1.0, std::abs(double(expected.value(b)))));
    const double scale = std::max(1.0, double(expected.gradient.col(b).norm()));
    CHECK(double((got.gradient.col(b) - expected.gradient.col(b)).norm()) <= tol * scale);
  }
  CHECK(same_on_every_rank(got.value));
  CHECK(same_on_every_rank(got.gradient));
  // value() alone agrees with the value of value_and_gradient() to the bit on every rank.
  CHECK(same_on_every_rank(energy.value(x)));
}

}  // namespace

TEMPLATE_TEST_CASE("sharded energies equal one process holding the whole memory", "[distributed]",
                   float, double) {
  using S = TestType;
  const Mat<S> xi = engram_test::uniform(11, 5, 37).cast<S>();
  const Mat<S> x = engram_test::uniform(12, 5, 9).cast<S>();
  for (bool empty_rank_1 : {false, true}) {
    INFO("rank 1 empty: " << empty_rank_1);
    check_against_one_process<engram::lse_energy<S>>(xi, x, S(3), empty_rank_1);
    check_against_one_process<engram::lse_dot_energy<S>>(xi, x, S(2), empty_rank_1);
    check_against_one_process<engram::power_energy<3, S>>(xi, x, S(1), empty_rank_1);
    // beta 2: the support radius 1 reaches a handful of the 37 memories from each query.
    check_against_one_process<engram::lsr_energy<S>>(xi, x, S(2), empty_rank_1);
  }
}

TEST_CASE("up to two ranks, bitwise the rank-order combination of the shards' partial states",
          "[distributed]") {
  // With one or two ranks the allreduce has one way to combine; with more, MPI picks how to
  // group them, which only the order (rank 0 first) pins.
  if (world().size() > 2) return;
  const Eigen::MatrixXd xi = engram_test::uniform(21, 6, 50), x = engram_test::uniform(22, 6, 7);
  const int p = world().size();
  // One process: each slice's partial state through the seam, folded in rank order.
  std::vector<engram::dense_memory<double>> slices;
  for (int r = 0; r < p; ++r) {
    const auto [b, e] = slice(xi.cols(), r, p);
    slices.emplace_back(xi.middleCols(b, e - b));
  }
  engram::lse_energy<double> first(slices[0], 4.0);
  auto ws = first.make_workspace();
  first.reduce(x, true, ws);
  for (int r = 1; r < p; ++r) {
    engram::lse_energy<double> next(slices[std::size_t(r)], 4.0);
    auto other = next.make_workspace();
    next.reduce(x, true, other);
    ws.partial.combine(other.partial);
  }
  Eigen::VectorXd expected(x.cols());
  Eigen::MatrixXd expected_gradient(x.rows(), x.cols());
  first.finish(x, expected, &expected_gradient, ws);

  dist::sharded_memory<double> memory(world(), my_slice(xi));
  const dist::sharded_energy<engram::lse_energy<double>> energy(memory, 4.0);
  const auto got = energy.value_and_gradient(x);
  CHECK(got.value == expected);
  CHECK(got.gradient == expected_gradient);
}

TEST_CASE("the partial-state seam refuses gradients from a reduction without them",
          "[distributed]") {
  const Eigen::MatrixXd xi = engram_test::uniform(25, 3, 8), x = engram_test::uniform(26, 3, 2);
  engram::dense_memory<double> memory(xi);
  const engram::lse_energy<double> energy(memory, 2.0);
  auto ws = energy.make_workspace();
  energy.reduce(x, false, ws);
  Eigen::VectorXd e(2);
  Eigen::MatrixXd g(3, 2);
  CHECK_THROWS_AS(energy.finish(x, e, &g, ws), engram::invalid_argument);
  energy.finish(x, e, nullptr, ws);  // energies alone are there
  CHECK(e == energy.value(x));
}

TEMPLATE_TEST_CASE("replicated retrieval: one process's result, the same on every rank",
                   "[distributed]", float, double) {
  using S = TestType;
  const Mat<S> xi = engram_test::uniform(31, 8, 40).cast<S>();
  // Queries near stored patterns.
  Mat<S> x = xi.leftCols(6) + S(0.05) * engram_test::uniform(32, 8, 6).cast<S>();
  engram::dense_memory<S> whole(xi);
  dist::sharded_memory<S> memory(world(), my_slice(xi, true));

  SECTION("gradient descent on log-sum-exp") {
    const engram::lse_energy<S> one(whole, S(8));
    const dist::sharded_energy<engram::lse_energy<S>> energy(memory, S(8));
    const auto rule = stop::any_of(stop::gradient_norm(1e-3), stop::after(200));
    const auto expected =
        engram::retrieve(one, x, engram::gradient_descent<S>{.step = S(0.5)}, rule);
    const auto got = engram::retrieve(energy, x, engram::gradient_descent<S>{.step = S(0.5)}, rule);
    const double tol = std::is_same_v<S, float> ? 1e-4 : 1e-10;  // rounding carried over steps
    CHECK(double((got.states - expected.states).cwiseAbs().maxCoeff()) <= tol);
    for (Index b = 0; b < x.cols(); ++b) CHECK(got.converged(b) == expected.converged(b));
    CHECK(same_on_every_rank(got.states));
    CHECK(same_on_every_rank(got.energies));
    CHECK(same_on_every_rank(got.steps));
  }
  SECTION("exact LSR retrieval, supports as indices of the whole memory") {
    const engram::lsr_energy<S> one(whole, S(2));
    const dist::sharded_energy<engram::lsr_energy<S>> energy(memory, S(2));
    CHECK(energy.supports(x) == one.supports(x));
    const auto expected = engram::retrieve(one, x, engram::centroid_iteration<S>{},
                                           stop::any_of(stop::fixed_point(), stop::after(50)));
    const auto got = engram::retrieve(energy, x, engram::centroid_iteration<S>{},
                                      stop::any_of(stop::fixed_point(), stop::after(50)));
    // Centroids are means of the same supports, summed in another order.
    const double tol = std::is_same_v<S, float> ? 1e-5 : 1e-13;
    CHECK(double((got.states - expected.states).cwiseAbs().maxCoeff()) <= tol);
    CHECK(got.steps == expected.steps);
    CHECK(energy.supports(got.states) == one.supports(expected.states));
    CHECK(same_on_every_rank(got.states));
    CHECK(same_on_every_rank(got.steps));
    // A query within reach of one pattern alone lands on it bit for bit (one-member support).
    const Mat<S> single = xi.col(3);
    if (one.supports(single)[0].size() == 1) {
      const auto r = engram::retrieve(energy, single, engram::centroid_iteration<S>{},
                                      stop::any_of(stop::fixed_point(), stop::after(50)));
      CHECK(r.states == single);
    }
  }
}

TEMPLATE_TEST_CASE("scattered queries: each rank retrieves its own columns", "[distributed]", float,
                   double) {
  using S = TestType;
  const Mat<S> xi = engram_test::uniform(35, 8, 40).cast<S>();
  const Mat<S> x = xi.leftCols(11) + S(0.05) * engram_test::uniform(36, 8, 11).cast<S>();
  engram::dense_memory<S> whole(xi);
  dist::sharded_memory<S> memory(world(), my_slice(xi));
  // Rank r's queries: an uneven slice of the 11 columns, none on rank 1 (with 2 ranks or more).
  const auto [first, last] = slice(x.cols(), world().rank(), world().size(), true);
  const Mat<S> mine = x.middleCols(first, last - first);

  SECTION("energies and gradients of one's own columns") {
    const engram::lse_energy<S> one(whole, S(8));
    dist::sharded_energy<engram::lse_energy<S>> energy(memory, S(8));
    energy.set_query_layout(dist::query_layout::scattered);
    auto ws = energy.make_workspace();
    Eigen::Matrix<S, Eigen::Dynamic, 1> e(mine.cols());
    Mat<S> g(8, mine.cols());
    if (mine.cols() > 0)
      energy.validate(mine);
    else
      energy.join_validate();
    energy.evaluate(mine, e, &g, ws);
    const auto expected = one.value_and_gradient(x);
    const double tol = tolerance<S>();
    for (Index b = 0; b < mine.cols(); ++b) {
      CHECK(std::abs(double(e(b) - expected.value(first + b))) <=
            tol * std::max(1.0, std::abs(double(e(b)))));
      CHECK(double((g.col(b) - expected.gradient.col(first + b)).norm()) <=
            tol * std::max(1.0, double(expected.gradient.col(first + b).norm())));
    }
  }
  SECTION("gradient descent: each column stops on its own rank, all ranks return together") {
    const engram::lse_energy<S> one(whole, S(8));
    dist::sharded_energy<engram::lse_energy<S>> energy(memory, S(8));
    energy.set_query_layout(dist::query_layout::scattered);
    const auto rule = stop::any_of(stop::gradient_norm(1e-3), stop::after(200));
    const auto expected =
        engram::retrieve(one, x, engram::gradient_descent<S>{.step = S(0.5)}, rule);
    const auto got =
        dist::retrieve(energy, mine, engram::gradient_descent<S>{.step = S(0.5)}, rule);
    REQUIRE(got.states.cols() == mine.cols());
    const double tol = std::is_same_v<S, float> ? 1e-4 : 1e-10;
    for (Index b = 0; b < mine.cols(); ++b) {
      CHECK(double((got.states.col(b) - expected.states.col(first + b)).cwiseAbs().maxCoeff()) <=
            tol);
      CHECK(got.converged(b) == expected.converged(first + b));
    }
    // The replicated layout through the same entry point: the whole batch on every rank.
    energy.set_query_layout(dist::query_layout::replicated);
    const auto all = dist::retrieve(energy, x, engram::gradient_descent<S>{.step = S(0.5)}, rule);
    CHECK(same_on_every_rank(all.states));
  }
  SECTION("exact LSR retrieval, scattered") {
    const engram::lsr_energy<S> one(whole, S(2));
    dist::sharded_energy<engram::lsr_energy<S>> energy(memory, S(2));
    energy.set_query_layout(dist::query_layout::scattered);
    CHECK_THROWS_AS(energy.supports(mine), engram::invalid_argument);
    const auto rule = stop::any_of(stop::fixed_point(), stop::after(50));
    const auto expected = engram::retrieve(one, x, engram::centroid_iteration<S>{}, rule);
    const auto got = dist::retrieve(energy, mine, engram::centroid_iteration<S>{}, rule);
    const double tol = std::is_same_v<S, float> ? 1e-5 : 1e-13;
    for (Index b = 0; b < mine.cols(); ++b) {
      CHECK(double((got.states.col(b) - expected.states.col(first + b)).cwiseAbs().maxCoeff()) <=
            tol);
      CHECK(got.steps(b) == expected.steps(first + b));
    }
  }
}

TEST_CASE("memories change collectively: add and remove on the shards", "[distributed]") {
  const Eigen::MatrixXd xi = engram_test::uniform(41, 4, 30), more = engram_test::uniform(42, 4, 9);
  const Eigen::MatrixXd x = engram_test::uniform(43, 4, 5);
  dist::sharded_memory<double> memory(world(), my_slice(xi));
  const dist::sharded_energy<engram::lse_energy<double>> energy(memory, 2.0);
  const auto before = memory.version();
  // Rank r adds the patterns of its slice of `more`; the whole memory is then the
  // concatenation, in rank order, of each rank's old and new patterns.
  memory.add(my_slice(more));
  CHECK(memory.version() != before);
  CHECK(memory.size() == xi.cols() + more.cols());
  Eigen::MatrixXd whole_patterns(4, 0);
  for (int r = 0; r < world().size(); ++r) {
    const auto [b, e] = slice(xi.cols(), r, world().size());
    const auto [c, f] = slice(more.cols(), r, world().size());
    Eigen::MatrixXd next(4, whole_patterns.cols() + (e - b) + (f - c));
    next << whole_patterns, xi.middleCols(b, e - b), more.middleCols(c, f - c);
    whole_patterns = next;
  }
  engram::dense_memory<double> whole(whole_patterns);
  const engram::lse_energy<double> one(whole, 2.0);
  CHECK((energy.value(x) - one.value(x)).cwiseAbs().maxCoeff() <= 1e-12);

  // Supports as indices of the whole memory follow the shards' new offsets.
  const dist::sharded_energy<engram::lsr_energy<double>> lsr(memory, 8.0);
  const engram::lsr_energy<double> lsr_one(whole, 8.0);
  CHECK(lsr.supports(x) == lsr_one.supports(x));

  // Remove patterns 0, 5 and the last by their indices in the whole memory.
  const Index last = memory.size() - 1;
  memory.remove({last, 0, 5});
  whole.remove(std::vector<Index>{0, 5, last});
  CHECK(memory.size() == whole.size());
  CHECK((energy.value(x) - one.value(x)).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK(lsr.supports(x) == lsr_one.supports(x));
  std::size_t members = 0;
  for (const auto& s : lsr_one.supports(x)) members += s.size();
  CHECK(members > 0);  // radius 0.5 in the unit cube: a few memories a query
}

TEST_CASE("distribute scatters rank 0's patterns in contiguous slices", "[distributed]") {
  const Eigen::MatrixXf xi = engram_test::uniform(51, 3, 23).cast<float>();
  // Only the root's matrix is read: the others pass nothing.
  const Eigen::MatrixXf given = world().rank() == 0 ? xi : Eigen::MatrixXf(0, 0);
  const auto memory = dist::distribute<float>(world(), given);
  const int p = world().size(), r = world().rank();
  const Index base = 23 / p, extra = 23 % p;
  CHECK(memory.size() == 23);
  CHECK(memory.local().size() == base + (r < extra ? 1 : 0));
  CHECK(memory.offset() == r * base + std::min<Index>(r, extra));
  CHECK(memory.local().patterns() == xi.middleCols(memory.offset(), memory.local().size()));
}

TEST_CASE("DrDAM's tensor summed over ranks: every rank's copy the same, one process's T",
          "[distributed]") {
  using features = engram::random_features<engram::sincos_features, double>;
  const Eigen::MatrixXd xi = engram_test::uniform(61, 6, 40), x = engram_test::uniform(62, 6, 5);
  dist::sharded_tensor<engram::sincos_features, double> tensor(
      world(), features(6, 300, 2.0, 17), my_slice(xi, true), engram::readout::keep);
  engram::distributed_memory<engram::sincos_features, double> one(features(6, 300, 2.0, 17), xi,
                                                                  engram::readout::keep);
  const auto& t = tensor.memory();
  CHECK(t.size() == 40);
  // Sums of 40 features of magnitude <= 1 in another grouping: a few ulps of 40.
  CHECK((t.memory_tensor() - one.memory_tensor()).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((t.readout_tensor() - one.readout_tensor()).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK(same_on_every_rank(t.memory_tensor()));
  CHECK(same_on_every_rank(t.readout_tensor()));
  const engram::drdam_energy<engram::sincos_features, double> here(t), there(one);
  CHECK((here.value(x) - there.value(x)).cwiseAbs().maxCoeff() <= 1e-10);

  // Only rank 0 adds, then every rank removes its own slice: what is left is rank 0's addition.
  const Eigen::MatrixXd more = engram_test::uniform(63, 6, 3);
  tensor.add(world().rank() == 0 ? more : Eigen::MatrixXd(6, 0));
  CHECK(t.size() == 43);
  CHECK(same_on_every_rank(t.memory_tensor()));
  tensor.remove(my_slice(xi, true));
  CHECK(t.size() == 3);
  engram::distributed_memory<engram::sincos_features, double> left(features(6, 300, 2.0, 17), more);
  CHECK((t.memory_tensor() - left.memory_tensor()).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK(same_on_every_rank(t.memory_tensor()));
}

TEST_CASE("README snippet: a memory over MPI ranks", "[distributed][readme]") {
  const Eigen::MatrixXf all = engram_test::uniform(81, 16, 50).cast<float>();
  const Eigen::MatrixXf patterns = world().rank() == 0 ? all : Eigen::MatrixXf(0, 0);
  const Eigen::MatrixXf queries = all.leftCols(4).array() + 0.01f;
  // clang-format off
  // readme:begin
  namespace dist = engram::distributed;
  dist::communicator comm(MPI_COMM_WORLD);  // engram's own duplicate; collective
  auto memory = dist::distribute<float>(comm, patterns);  // rank 0's D x K, sliced over ranks
  dist::sharded_energy<engram::lse_energy<float>> energy(memory, 20.f);
  auto result = dist::retrieve(energy, queries, engram::gradient_descent<float>{.step = 0.5f},
                               engram::stop::gradient_norm(1e-4) || engram::stop::after(500));
  // readme:end
  // clang-format on
  CHECK(result.all_converged());
  // Near each stored pattern at beta 20 (uniform patterns in 16 dimensions lie ~1.6 apart).
  CHECK(double((result.states - all.leftCols(4)).cwiseAbs().maxCoeff()) < 0.05);
  CHECK(same_on_every_rank(result.states));
  CHECK(memory.size() == 50);
}

TEST_CASE("bad input raises a typed error on every rank", "[distributed][bad-input]") {
  const int r = world().rank(), p = world().size();
  const Eigen::MatrixXd xi = engram_test::uniform(71, 4, 12), x = engram_test::uniform(72, 4, 3);

  SECTION("a communicator of no ranks, a timeout of zero") {
    CHECK_THROWS_AS(dist::communicator(MPI_COMM_NULL), engram::invalid_argument);
    CHECK_THROWS_AS(dist::communicator(MPI_COMM_WORLD, std::chrono::milliseconds(0)),
                    engram::invalid_argument);
  }
  SECTION("shards of different dimensions") {
    if (p == 1) return;
    const Eigen::MatrixXd shard = engram_test::uniform(73, r == p - 1 ? 5 : 4, 3);
    CHECK_THROWS_AS(dist::sharded_memory<double>(world(), shard), engram::dimension_mismatch);
  }
  dist::sharded_memory<double> memory(world(), my_slice(xi));
  SECTION("a timeout beyond a year, or an intercommunicator") {
    CHECK_THROWS_AS(dist::communicator(MPI_COMM_WORLD, std::chrono::hours(24 * 366)),
                    engram::invalid_argument);
    CHECK_THROWS_AS(world().set_timeout(std::chrono::milliseconds::max()),
                    engram::invalid_argument);
  }
  SECTION("a root out of range") {
    CHECK_THROWS_AS(dist::distribute<double>(world(), xi, p), engram::invalid_argument);
  }
  SECTION("different eps on different ranks") {
    if (p == 1) return;
    CHECK_THROWS_AS(
        dist::sharded_energy<engram::lsr_energy<double>>(memory, 2.0, r == 0 ? 0.0 : 1e-3),
        engram::invalid_argument);
  }
  SECTION("different query layouts on different ranks") {
    if (p == 1) return;
    dist::sharded_energy<engram::lse_energy<double>> e(memory, 2.0);
    CHECK_THROWS_AS(
        e.set_query_layout(r == 0 ? dist::query_layout::scattered : dist::query_layout::replicated),
        engram::invalid_argument);
    CHECK(e.layout() == dist::query_layout::replicated);
  }
  SECTION("a retrieval that fails on one rank alone, in either layout") {
    // The last rank's clamp mask has the wrong shape: its gradient flow refuses it before any
    // collective call; the others hear of it.
    const engram::mask clamp(r == p - 1 ? 3 : 4, 1);
    for (auto layout : {dist::query_layout::replicated, dist::query_layout::scattered}) {
      dist::sharded_energy<engram::lse_energy<double>> e(memory, 2.0);
      e.set_query_layout(layout);
      const auto run = [&] {
        return dist::retrieve(e, x, engram::gradient_descent<double>{.step = 0.1}, stop::after(5),
                              {.clamp = clamp});
      };
      if (r == p - 1)
        CHECK_THROWS_AS(run(), engram::dimension_mismatch);
      else
        CHECK_THROWS_AS(run(), engram::rank_failed);
    }
    CHECK(
        same_on_every_rank(dist::sharded_energy<engram::lse_energy<double>>(memory, 2.0).value(x)));
  }
  SECTION("different beta on different ranks") {
    if (p == 1) return;
    CHECK_THROWS_AS(dist::sharded_energy<engram::lse_energy<double>>(memory, r == 0 ? 2.0 : 3.0),
                    engram::invalid_argument);
  }
  SECTION("an invalid beta on one rank: that rank's error there, rank_failed elsewhere") {
    const auto make = [&] {
      return dist::sharded_energy<engram::lse_energy<double>>(memory, r == p - 1 ? -1.0 : 2.0);
    };
    if (r == p - 1)
      CHECK_THROWS_AS(make(), engram::invalid_argument);
    else
      CHECK_THROWS_AS(make(), engram::rank_failed);
  }
  const dist::sharded_energy<engram::lse_energy<double>> energy(memory, 2.0);
  SECTION("a NaN in one rank's queries") {
    Eigen::MatrixXd bad = x;
    if (r == 0) bad(1, 2) = std::numeric_limits<double>::quiet_NaN();
    if (r == 0)
      CHECK_THROWS_AS(energy.value(bad), engram::not_finite);
    else
      CHECK_THROWS_AS(energy.value(bad), engram::rank_failed);
    // Every rank is in step afterwards.
    CHECK(same_on_every_rank(energy.value(x)));
  }
  SECTION("different queries on different ranks") {
    if (p == 1) return;
    Eigen::MatrixXd mine = x;
    mine(0, 0) += r;
    CHECK_THROWS_AS(energy.value(mine), engram::invalid_argument);
  }
  SECTION("batches of different sizes") {
    if (p == 1) return;
    CHECK_THROWS_AS(energy.value(x.leftCols(r == 0 ? 2 : 3)), engram::collective_mismatch);
  }
  SECTION("ranks in different calls") {
    if (p == 1) return;
    if (r == 0)
      CHECK_THROWS_AS(energy.value(x), engram::collective_mismatch);
    else
      CHECK_THROWS_AS(memory.add(Eigen::MatrixXd(4, 0)), engram::collective_mismatch);
    CHECK(same_on_every_rank(energy.value(x)));
  }
  SECTION("remove() with different lists") {
    if (p == 1) return;
    CHECK_THROWS_AS(memory.remove({Index(r)}), engram::collective_mismatch);
  }
  SECTION("a memory empty on every rank") {
    dist::sharded_memory<double> nothing(world(), 4);
    const dist::sharded_energy<engram::lse_energy<double>> none(nothing, 2.0);
    CHECK_THROWS_AS(none.value(x), engram::empty_memory);
  }
  SECTION("feature maps with different seeds or readout settings") {
    if (p == 1) return;
    using features = engram::random_features<engram::sincos_features, double>;
    using tensor = dist::sharded_tensor<engram::sincos_features, double>;
    CHECK_THROWS_AS(tensor(world(), features(4, 64, 1.0, 5 + std::uint64_t(r)), my_slice(xi)),
                    engram::invalid_argument);
    CHECK_THROWS_AS(tensor(world(), features(4, 64, 1.0, 5), my_slice(xi),
                           r == 0 ? engram::readout::keep : engram::readout::none),
                    engram::invalid_argument);
  }
  SECTION("a rank that never joins: collective_timeout, not a hang") {
    if (p == 1) return;
    dist::communicator short_lived(MPI_COMM_WORLD);
    dist::sharded_memory<double> mem(short_lived, my_slice(xi));
    const dist::sharded_energy<engram::lse_energy<double>> e(mem, 2.0);
    // Short only now, so that a slow start on busy cores does not time out the setup.
    short_lived.set_timeout(std::chrono::milliseconds(300));
    if (r == 0) {
      CHECK_THROWS_AS(e.value(x), engram::collective_timeout);
      CHECK(short_lived.broken());
      CHECK_THROWS_AS(e.value(x), engram::collective_timeout);  // at once: it is broken
    }
    // The others skipped the call; all meet again on the world communicator.
    world().agree(dist::collective::user, 0);
  }
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int failed = 0;
  {
    world_comm = std::make_unique<dist::communicator>(MPI_COMM_WORLD, std::chrono::seconds(60));
    failed = Catch::Session().run(argc, argv);
    // One verdict for mpirun: a test that failed on any rank fails the run.
    std::int64_t any = failed;
    world().sum_counts(&any);
    failed = any > 0 ? 1 : 0;
    world_comm.reset();
  }
  MPI_Finalize();
  return failed;
}
