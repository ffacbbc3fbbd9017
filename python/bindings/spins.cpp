// The classical Hopfield network (seed 004; Hopfield 1982): Ising spin fields over pattern or
// dense couplings, and the spin updates that run them under integrate(), in float64.
#include "common.hpp"

namespace engram::python {

namespace {

using pattern_field = ising_field<pattern_couplings<double>>;
using dense_field = ising_field<dense_couplings<double>>;

/// A network over pattern couplings (h = xi (xi^T sigma) / N - (P/N) sigma) or dense ones. The
/// fields cache their last local fields, so every use holds the network's lock.
struct py_ising {
  std::variant<std::unique_ptr<pattern_field>, std::unique_ptr<dense_field>> field;
  shared_lock lock = make_guard();

  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit([&](const auto& p) -> decltype(auto) { return f(*p); }, field);
  }
};

struct py_synchronous_sign {};
struct py_asynchronous_sign {
  std::uint64_t seed = 0;
};
struct py_glauber {
  double beta = 1, cooling = 0;
  std::uint64_t seed = 0;
};
using py_spin_stepper = std::variant<py_synchronous_sign, py_asynchronous_sign, py_glauber>;

/// Spin states (B, N) of +-1 as the N x B matrix the fields take.
matrix<double> spins_arg(nb::handle states, index n) {
  matrix<double> s = batch_arg<double>(states, "states", n).columns();
  for (index b = 0; b < s.cols(); ++b)
    for (index i = 0; i < n; ++i)
      if (s(i, b) != 1.0 && s(i, b) != -1.0)
        throw invalid_argument(
            detail::message("states[", b, ", ", i, "] is ", s(i, b), "; Ising spins are -1 or +1"));
  return s;
}

}  // namespace

void bind_spins(nb::module_& m) {
  m.def(
      "random_ising_patterns",
      [](index n, index p, std::uint64_t seed) {
        return rows_of<double>(random_ising_patterns(n, p, seed));
      },
      nb::arg("n"), nb::arg("p"), nb::arg("seed"),
      "P patterns of N independent +-1 spins, (P, N), from the Philox streams of seed.");
  m.def(
      "overlaps",
      [](nb::handle patterns, nb::handle states) {
        const matrix<double> xi = batch_arg<double>(patterns, "patterns").columns();
        const matrix<double> s = batch_arg<double>(states, "states", xi.rows()).columns();
        return rows_of<double>(overlaps(xi, s));  // P x B column-major: (B, P) rows
      },
      nb::arg("patterns"), nb::arg("states"),
      "<xi_mu, sigma_b> / N for each state b (rows of states) and pattern mu (rows of "
      "patterns): an array (B, P).");

  nb::class_<py_ising>(m, "HopfieldNetwork",
                       "The classical Hopfield network: Ising spins sigma in {-1, 1}^N with "
                       "E = -1/2 sigma^T J sigma, J = xi^T xi / N with a zero diagonal.")
      .def(
          "__init__",
          [](py_ising* self, nb::handle patterns) {
            const matrix<double> xi = batch_arg<double>(patterns, "patterns").columns();
            auto field = std::make_unique<pattern_field>(pattern_couplings<double>(xi));
            new (self) py_ising();
            self->field = std::move(field);
          },
          nb::arg("patterns"), "Couplings kept as the +-1 patterns (P, N): a field costs O(N P).")
      .def_static(
          "from_coupling",
          [](nb::handle coupling) {
            const auto v = batch_arg<double>(coupling, "coupling");
            matrix<double> j = v.columns().transpose();
            py_ising out;
            out.field = std::make_unique<dense_field>(dense_couplings<double>(std::move(j)));
            return out;
          },
          nb::arg("coupling"), "Any symmetric J (N, N) with a zero diagonal.")
      .def_static(
          "hebbian",
          [](nb::handle patterns) {
            const matrix<double> xi = batch_arg<double>(patterns, "patterns").columns();
            py_ising out;
            out.field = std::make_unique<dense_field>(hebbian_couplings(xi));
            return out;
          },
          nb::arg("patterns"), "Dense J = xi^T xi / N with a zero diagonal, from (P, N).")
      .def_prop_ro(
          "dim", [](const py_ising& s) { return s.visit([](const auto& f) { return f.dim(); }); },
          "N")
      .def(
          "energy",
          [](const py_ising& self, nb::handle states) {
            return self.visit([&](auto& f) {
              const matrix<double> s = spins_arg(states, f.dim());
              vector<double> e;
              {
                heavy_section section(self.lock);
                e = f.energy(s);
              }
              return array_of<double>(std::move(e));
            });
          },
          nb::arg("states"), "E = -1/2 sigma^T J sigma of each row of states (B, N).")
      .def(
          "local_fields",
          [](const py_ising& self, nb::handle states) {
            return self.visit([&](auto& f) {
              const matrix<double> s = spins_arg(states, f.dim());
              matrix<double> h;
              {
                heavy_section section(self.lock);
                h = f.local_fields(s);
              }
              return rows_of<double>(std::move(h));
            });
          },
          nb::arg("states"), "h = J sigma of each row of states: (B, N).");

  nb::class_<py_synchronous_sign>(m, "SynchronousSign",
                                  "Every spin to sign(h) at once; may fall into 2-cycles.")
      .def(nb::init<>(), "The synchronous sign update (no parameters).");
  nb::class_<py_asynchronous_sign>(
      m, "AsynchronousSign",
      "Spins in a random order (Philox, keyed by seed), each to its best response; the energy "
      "never rises, and a sweep without a flip is a fixed point.")
      .def(
          "__init__",
          [](py_asynchronous_sign* p, std::uint64_t seed) { new (p) py_asynchronous_sign{seed}; },
          nb::arg("seed") = 0, "The asynchronous update; seed keys the sweeps' orders.")
      .def_rw("seed", &py_asynchronous_sign::seed, "keys the orders of the sweeps");
  nb::class_<py_glauber>(m, "Glauber",
                         "Heat-bath updates in a random order at beta_k = beta + cooling k in "
                         "sweep k: P(sigma_i = +1) = 1 / (1 + exp(-2 beta_k h_i)).")
      .def(
          "__init__",
          [](py_glauber* p, double beta, double cooling, std::uint64_t seed) {
            new (p) py_glauber{beta, cooling, seed};
          },
          nb::arg("beta") = 1.0, nb::arg("cooling") = 0.0, nb::arg("seed") = 0,
          "Heat-bath sweeps from inverse temperature beta >= 0, raised by cooling >= 0 a sweep.")
      .def_rw("beta", &py_glauber::beta, "inverse temperature of the first sweep")
      .def_rw("cooling", &py_glauber::cooling, "C of beta_k = beta + C k")
      .def_rw("seed", &py_glauber::seed, "keys the orders and the heat-bath draws");

  m.def(
      "run_spins",
      [](const py_ising& self, nb::handle states, const py_spin_stepper& stepper,
         const std::shared_ptr<const stop_rule_node>& stop, bool record_trace) {
        const runtime_stop rule = checked_stop(stop);
        return self.visit([&](auto& f) {
          const matrix<double> s = spins_arg(states, f.dim());
          const integrate_options o{.record_trace = record_trace};
          retrieval_result<double> r = std::visit(
              [&](const auto& p) {
                using P = std::decay_t<decltype(p)>;
                heavy_section section(self.lock);
                if constexpr (std::is_same_v<P, py_synchronous_sign>)
                  return integrate(f, s, synchronous_sign<double>{}, rule, no_observer{}, o);
                else if constexpr (std::is_same_v<P, py_asynchronous_sign>)
                  return integrate(f, s, asynchronous_sign<double>{.seed = p.seed}, rule,
                                   no_observer{}, o);
                else
                  return integrate(
                      f, s, glauber<double>{.beta = p.beta, .cooling = p.cooling, .seed = p.seed},
                      rule, no_observer{}, o);
              },
              stepper);
          return result_of<double>(std::move(r), record_trace);
        });
      },
      nb::arg("network"), nb::arg("states"), nb::arg("stepper"), nb::arg("stop"), nb::kw_only(),
      nb::arg("record_trace") = false,
      "Runs the network from each row of states (B, N) of +-1 spins, one sweep a step, until "
      "stop ends it (stop.fixed_point() | stop.after(n) for the asynchronous update). Returns "
      "a RetrievalResult (energies E of the final states).");
}

}  // namespace engram::python
