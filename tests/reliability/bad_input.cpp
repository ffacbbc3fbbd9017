// Bad input at every public entry point, as one table: wrong dimensions, NaN and infinity,
// out-of-range and non-finite parameters, empty inputs. Each row names the entry point, the
// call, the engram::error type it must raise, and a word of the message that names the
// argument. Nothing may crash, hang, return NaN or raise anything but an engram::error.
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <functional>
#include <limits>
#include <string>
#include <typeinfo>
#include <vector>

#include "catch.hpp"
#include "support/files.hpp"
#include "support/support.hpp"

using engram_test::uniform;
using Md = Eigen::MatrixXd;
using Vd = Eigen::VectorXd;
namespace stop = engram::stop;

namespace {

enum class kind { invalid, dimension, not_finite, empty, io, parse };

struct row {
  const char* entry;  // the entry point and the bad input, for the report
  kind expected;      // the most derived engram::error type it must raise
  const char* names;  // a word of the message that names the argument
  std::function<void()> call;
};

bool has_kind(const engram::error& e, kind k) {
  switch (k) {
    case kind::invalid:
      return dynamic_cast<const engram::invalid_argument*>(&e) != nullptr;
    case kind::dimension:
      return dynamic_cast<const engram::dimension_mismatch*>(&e) != nullptr;
    case kind::not_finite:
      return dynamic_cast<const engram::not_finite*>(&e) != nullptr;
    case kind::empty:
      return dynamic_cast<const engram::empty_memory*>(&e) != nullptr;
    case kind::io:
      return dynamic_cast<const engram::io_error*>(&e) != nullptr;
    case kind::parse:
      return dynamic_cast<const engram::parse_error*>(&e) != nullptr;
  }
  return false;
}

void check_row(const row& r) {
  INFO(r.entry);
  try {
    r.call();
    FAIL("no error was raised");
  } catch (const engram::error& e) {
    INFO("raised " << typeid(e).name() << ": " << e.what());
    CHECK(has_kind(e, r.expected));
    CHECK(std::string(e.what()).find(r.names) != std::string::npos);
  } catch (const std::exception& e) {
    FAIL("raised a non-engram exception: " << e.what());
  }
}

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("every public entry point answers bad input with a typed error naming the argument",
          "[reliability][bad_input]") {
  const Eigen::Index d = 3;
  const Md xi = uniform(201, d, 6);
  const Md queries = xi.leftCols(2);
  Md with_nan = queries, with_inf = queries;
  with_nan(1, 1) = not_a_number;
  with_inf(0, 0) = infinity;
  engram::dense_memory<double> memory(xi);
  engram::dense_memory<double> empty(d);
  const engram::lse_energy<double> lse(memory, 5.0);
  const engram::lsr_energy<double> lsr(memory, 5.0);
  const engram::lse_energy<double> lse_empty(empty, 5.0);
  using sincos = engram::random_features<engram::sincos_features, double>;
  engram::distributed_memory<engram::sincos_features, double> distributed(sincos(d, 32, 2.0, 1),
                                                                          xi);
  const engram::drdam_energy<engram::sincos_features, double> drdam(distributed);
  const auto descent = engram::gradient_descent<double>{.step = 0.1};
  engram_test::scratch_dir dir("bad_input");

  const std::vector<row> table = {
      // Memories.
      {"dense_memory(dim = 0)", kind::invalid, "dim", [] { engram::dense_memory<double> m(0); }},
      {"dense_memory(0 x 3 patterns)", kind::dimension, "patterns",
       [] { engram::dense_memory<double> m(Md(0, 3)); }},
      {"dense_memory(NaN patterns)", kind::not_finite, "patterns",
       [&] { engram::dense_memory<double> m(with_nan); }},
      {"dense_memory::add(wrong rows)", kind::dimension, "patterns to add",
       [&] { engram::dense_memory<double>(xi).add(Md::Zero(d + 1, 2)); }},
      {"dense_memory::add(infinity)", kind::not_finite, "patterns to add",
       [&] { engram::dense_memory<double>(xi).add(with_inf); }},
      {"distributed_memory::add(wrong rows)", kind::dimension, "patterns to add",
       [&] {
         auto m = distributed;
         m.add(Md::Zero(d + 1, 1));
       }},
      {"distributed_memory::add(NaN)", kind::not_finite, "patterns to add",
       [&] {
         auto m = distributed;
         m.add(with_nan);
       }},
      {"distributed_memory::remove(more than stored)", kind::invalid, "removing",
       [&] {
         auto m = distributed;
         m.remove(uniform(202, d, 7));
       }},
      // Energies: parameters.
      {"lse_energy(beta = 0)", kind::invalid, "beta",
       [&] { engram::lse_energy<double> e(memory, 0.0); }},
      {"lse_energy(beta = NaN)", kind::invalid, "beta",
       [&] { engram::lse_energy<double> e(memory, not_a_number); }},
      {"lse_energy(beta = infinity)", kind::invalid, "beta",
       [&] { engram::lse_energy<double> e(memory, infinity); }},
      {"lsr_energy(eps = -1)", kind::invalid, "eps",
       [&] { engram::lsr_energy<double> e(memory, 5.0, -1.0); }},
      {"lsr_energy(eps = NaN)", kind::invalid, "eps",
       [&] { engram::lsr_energy<double> e(memory, 5.0, not_a_number); }},
      {"hybrid_energy(eps = 0)", kind::invalid, "eps",
       [&] { engram::hybrid_energy<double> e(memory, 5.0, 0.0, 10.0); }},
      {"hybrid_energy(lse_beta = NaN)", kind::invalid, "lse_beta",
       [&] { engram::hybrid_energy<double> e(memory, 5.0, 1e-3, not_a_number); }},
      {"sum_energy(weight = -1)", kind::invalid, "weights",
       [&] {
         engram::sum_energy<double, engram::lse_energy<double>, engram::lsr_energy<double>> s(
             {1.0, -1.0}, lse, lsr);
       }},
      {"drdam_energy(eps = 0)", kind::invalid, "eps",
       [&] { engram::drdam_energy<engram::sincos_features, double> e(distributed, 0.0); }},
      // Energies: queries.
      {"lse value(wrong rows)", kind::dimension, "queries", [&] { lse.value(Md::Zero(d + 1, 2)); }},
      {"lse value(0 columns)", kind::invalid, "queries", [&] { lse.value(Md(d, 0)); }},
      {"lse value(NaN)", kind::not_finite, "queries", [&] { lse.value(with_nan); }},
      {"lse value(infinity)", kind::not_finite, "queries", [&] { lse.value(with_inf); }},
      {"lse value(empty memory)", kind::empty, "no patterns", [&] { lse_empty.value(queries); }},
      {"lse value(workspace of another dimension)", kind::dimension, "workspace",
       [&] {
         engram::dense_memory<double> other(uniform(203, d + 1, 2));
         const engram::lse_energy<double> e(other, 5.0);
         auto ws = e.make_workspace();
         lse.value(queries, ws);
       }},
      {"lsr gradient(NaN)", kind::not_finite, "queries", [&] { lsr.gradient(with_nan); }},
      {"lsr supports(wrong rows)", kind::dimension, "queries",
       [&] { lsr.supports(Md::Zero(d + 1, 1)); }},
      {"drdam value(NaN)", kind::not_finite, "queries", [&] { drdam.value(with_nan); }},
      {"normalized_lse_energy value(zero column)", kind::invalid, "column 1",
       [&] {
         Md zero = queries;
         zero.col(1).setZero();
         engram::normalized_lse_energy<double>(engram::lse_dot_energy<double>(memory, 5.0))
             .value(zero);
       }},
      {"mapped drdam retrieve(zero column)", kind::invalid, "zero vector",
       [&] {
         const engram::mapped_energy<engram::drdam_energy<engram::sincos_features, double>> m(
             drdam);
         engram::retrieve(m, Md::Zero(d, 2), descent, stop::after(3));
       }},
      {"drdam readout_gradient(no readout tensor)", kind::invalid, "readout::keep",
       [&] { drdam.readout_gradient(queries); }},
      // Lagrangian dynamics (seed 003).
      {"krotov_hopfield_field(W not square)", kind::dimension, "square",
       [] {
         engram::krotov_hopfield_field<engram::relu_lagrangian<double>> f(Md::Zero(3, 2),
                                                                          Vd::Zero(3));
       }},
      {"krotov_hopfield_field(non-symmetric W)", kind::invalid, "remedy",
       [] {
         Md w = Md::Zero(2, 2);
         w(0, 1) = 1;
         engram::krotov_hopfield_field<engram::relu_lagrangian<double>> f(w, Vd::Zero(2));
       }},
      {"remedy_field(NaN in b)", kind::not_finite, "b",
       [] {
         engram::remedy_field<engram::tanh_lagrangian<double>> f(Md::Identity(2, 2),
                                                                 Vd::Constant(2, std::nan("")));
       }},
      {"original_remedy_field::energy(wrong rows)", kind::dimension, "states",
       [] {
         engram::original_remedy_field<engram::tanh_lagrangian<double>> f(Md::Identity(2, 2),
                                                                          Vd::Zero(2));
         f.energy(Md::Zero(3, 1));
       }},
      {"dead_neurons(tolerance = 0)", kind::invalid, "tolerance",
       [] { engram::dead_neurons(engram::relu_lagrangian<double>{}, Vd::Zero(2), 0.0); }},
      {"layered_lagrangian(sizes do not sum to N)", kind::dimension, "sum",
       [] {
         const engram::layered_lagrangian l(std::vector<Eigen::Index>{1, 1},
                                            engram::relu_lagrangian<double>{},
                                            engram::relu_lagrangian<double>{});
         Md g(3, 1);
         l.activation(Md::Zero(3, 1), g);
       }},
      {"drdam_gradient_bound(C1 = -1)", kind::invalid, "C1",
       [] { engram::drdam_gradient_bound(-1.0, 10, 1.0, 0.0, 4, 16); }},
      {"set_tiles(memory_tile = 0)", kind::invalid, "memory_tile is 0",
       [&] {
         auto e = lse;
         e.set_tiles({.memory_tile = 0, .query_tile = 64});
       }},
      {"set_tiles(query_tile = -3)", kind::invalid, "query_tile -3",
       [&] {
         auto e = lse;
         e.set_tiles({.memory_tile = 512, .query_tile = -3});
       }},
      {"set_tiles(thin_tile_bytes = -1)", kind::invalid, "thin_tile_bytes is -1",
       [&] {
         auto e = lse;
         e.set_tiles({.thin_tile_bytes = -1});
       }},
      {"drdam value(wrong rows)", kind::dimension, "queries",
       [&] { drdam.value(Md::Zero(d + 1, 1)); }},
      // Feature maps.
      {"random_features(dim = 0)", kind::invalid, "dim", [] { sincos f(0, 8, 1.0, 1); }},
      {"random_features(Y = 0)", kind::invalid, "Y", [] { sincos f(3, 0, 1.0, 1); }},
      {"random_features(Y D overflows)", kind::invalid, "Y",
       [] { sincos f(1 << 30, std::numeric_limits<Eigen::Index>::max() / 4, 1.0, 1); }},
      {"random_features(beta = NaN)", kind::invalid, "beta",
       [] { sincos f(3, 8, not_a_number, 1); }},
      {"random_features(tile = 0)", kind::invalid, "tile",
       [] { sincos f(3, 8, 1.0, 1, {.tile = 0}); }},
      {"random_features(draw = 7)", kind::invalid, "draw",
       [] { sincos f(3, 8, 1.0, 1, {.draw = engram::normal_draw(7)}); }},
      {"random_features::project(NaN)", kind::not_finite, "queries",
       [&] {
         auto ws = distributed.features().make_workspace();
         Vd s(2);
         distributed.features().project(with_nan, distributed.memory_tensor(), s, nullptr, ws);
       }},
      {"random_features::phi(wrong rows)", kind::dimension, "queries",
       [&] { distributed.features().phi(Md::Zero(d + 1, 1)); }},
      {"gaussian_projection(omega with NaN)", kind::not_finite, "omega",
       [&] { engram::gaussian_projection<double> p(with_nan.transpose(), Vd()); }},
      // Retrieval.
      {"retrieve(step = 0)", kind::invalid, "step",
       [&] {
         engram::retrieve(lse, queries, engram::gradient_descent<double>{.step = 0},
                          stop::after(3));
       }},
      {"retrieve(step = NaN)", kind::invalid, "step",
       [&] {
         engram::retrieve(lse, queries, engram::explicit_euler<double>{.step = not_a_number},
                          stop::after(3));
       }},
      {"retrieve(momentum coefficient = 1)", kind::invalid, "coefficient",
       [&] {
         engram::retrieve(lse, queries, engram::momentum<double>{.coefficient = 1}, stop::after(3));
       }},
      {"retrieve(rk4 step = -1)", kind::invalid, "rk4.step",
       [&] { engram::retrieve(lse, queries, engram::rk4<double>{.step = -1}, stop::after(3)); }},
      {"retrieve(dormand_prince rel_tolerance = 0)", kind::invalid, "rel_tolerance",
       [&] {
         engram::retrieve(lse, queries, engram::dormand_prince<double>{.rel_tolerance = 0},
                          stop::after(3));
       }},
      {"retrieve(stop::after(-1))", kind::invalid, "stop::after",
       [&] { engram::retrieve(lse, queries, descent, stop::after(-1)); }},
      {"retrieve(stop::gradient_norm(NaN))", kind::invalid, "gradient_norm",
       [&] {
         engram::retrieve(lse, queries, descent,
                          stop::gradient_norm(not_a_number) || stop::after(3));
       }},
      {"retrieve(stop::energy_change(-1))", kind::invalid, "energy_change",
       [&] { engram::retrieve(lse, queries, descent, stop::energy_change(-1) || stop::after(3)); }},
      {"retrieve(clamp of wrong shape)", kind::dimension, "clamp",
       [&] {
         engram::retrieve(lse, queries, descent, stop::after(3),
                          {.clamp = engram::mask::Constant(d + 1, 1, true)});
       }},
      {"retrieve(NaN queries)", kind::not_finite, "queries",
       [&] { engram::retrieve(lse, with_nan, descent, stop::after(3)); }},
      {"retrieve(wrong rows)", kind::dimension, "queries",
       [&] { engram::retrieve(drdam, Md::Zero(d + 1, 1), descent, stop::after(3)); }},
      {"retrieve(0 columns)", kind::invalid, "queries",
       [&] {
         engram::retrieve(lsr, Md(d, 0), engram::centroid_iteration<double>{}, stop::after(3));
       }},
      {"retrieve(empty memory)", kind::empty, "no patterns",
       [&] { engram::retrieve(lse_empty, queries, descent, stop::after(3)); }},
      {"centroid_iteration(outside_step = -1)", kind::invalid, "outside_step",
       [&] {
         engram::retrieve(lsr, queries, engram::centroid_iteration<double>{.outside_step = -1},
                          stop::after(3));
       }},
      // Analysis.
      {"enumerate_lsr_minima(batch = 0)", kind::invalid, "batch",
       [&] { engram::enumerate_lsr_minima(lsr, {.batch = 0}); }},
      {"enumerate_lsr_minima(max_subsets = NaN)", kind::invalid, "max_subsets",
       [&] { engram::enumerate_lsr_minima(lsr, {.max_subsets = not_a_number}); }},
      {"interaction_beta(neighbours = 0)", kind::invalid, "target",
       [&] { engram::interaction_beta(xi, 0.0); }},
      {"interaction_beta(count_self, one pattern)", kind::invalid, "at least 2",
       [&] { engram::interaction_beta(xi.leftCols(1), 1.5); }},
      {"interaction_beta(count_self, target 1: only itself)", kind::invalid, "target",
       [&] { engram::interaction_beta(xi, 1.0); }},
      {"mean_absolute_errors(NaN queries)", kind::not_finite, "queries",
       [&] { engram::mean_absolute_errors(lse, drdam, with_nan); }},
      {"binarised_hamming(shapes differ)", kind::dimension, "states",
       [&] { engram::binarised_hamming(queries, xi); }},
      {"gaussian_mixture(sigma = 0)", kind::invalid, "sigma",
       [&] { engram::gaussian_mixture<double> g(xi, 0.0); }},
      {"gaussian_mixture::log_density(wrong rows)", kind::dimension, "points",
       [&] { engram::gaussian_mixture<double>(xi, 0.1).log_density(Md::Zero(d + 1, 1)); }},
      {"drdam_corollary_step(C2 = 1)", kind::invalid, "C2",
       [] { engram::drdam_corollary_step(1.0, 10, 10, 1.0); }},
      {"drdam_divergence_bound(eta = NaN)", kind::invalid, "eta",
       [] { engram::drdam_divergence_bound(not_a_number, 10, 1.0, 10, 1.0, 0.0, 4, 100); }},
      // Files.
      {"read_idx(missing file)", kind::io, "missing.idx",
       [&] { engram::io::read_idx<float>(dir.path / "missing.idx"); }},
      {"read_idx_images(a label file)", kind::parse, "image file",
       [&] {
         engram::io::write_idx(dir.path / "labels.idx", Md::Constant(1, 3, 2.0), {},
                               engram::io::idx_type::u8);
         engram::io::read_idx_images<float>(dir.path / "labels.idx");
       }},
      {"write_idx(shape does not match rows)", kind::dimension, "item_shape",
       [&] {
         engram::io::write_idx(dir.path / "x.idx", queries, {d + 1}, engram::io::idx_type::f64);
       }},
      {"write_idx(NaN)", kind::not_finite, "items",
       [&] {
         engram::io::write_idx(dir.path / "x.idx", with_nan, {d}, engram::io::idx_type::f64);
       }},
      {"write_png_grid(zoom = 0)", kind::invalid, "zoom",
       [&] {
         engram::io::write_png_grid(dir.path / "x.png", Md::Zero(4, 1),
                                    {.height = 2, .width = 2, .zoom = 0});
       }},
      {"write_png_grid(wrong rows)", kind::dimension, "images",
       [&] {
         engram::io::write_png_grid(dir.path / "x.png", Md::Zero(5, 1), {.height = 2, .width = 2});
       }},
      {"save_memory(missing folder)", kind::io, "no_such_folder",
       [&] { engram::io::save_memory(dir.path / "no_such_folder" / "m.engram", memory); }},
      {"load_memory(a text file)", kind::parse, "text.engram",
       [&] {
         engram_test::write_bytes(dir.path / "text.engram", {'h', 'e', 'l', 'l', 'o'});
         engram::io::load_memory<engram::dense_memory<double>>(dir.path / "text.engram");
       }},
  };
  for (const row& r : table) check_row(r);
  CHECK(table.size() >= 60);
}
