// A Python energy: one of several engram energy types (float or double, and for some classes
// a compile-time parameter such as the power n or the feature map), chosen at construction, plus
// the lock of the memory it reads. The methods every energy shares are bound once here.
#pragma once

#include "common.hpp"

namespace engram::python {

template <class... Energies>
struct energy_box {
  std::variant<std::unique_ptr<Energies>...> energy;
  shared_lock lock;
  /// The energy's workspace, kept from call to call as a C++ caller would keep it (its buffers
  /// grow to the largest batch and stay). Used only under `lock`, and never by two calls at
  /// once: a retrieval with a progress callback (the one way back into Python mid-call) takes
  /// a fresh workspace instead.
  mutable std::shared_ptr<void> workspace;

  template <class E>
  typename E::workspace_type& cached_workspace(const E& e) const {
    using W = typename E::workspace_type;
    if (!workspace) workspace = std::make_shared<W>(e.make_workspace());
    return *static_cast<W*>(workspace.get());
  }

  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit([&](const auto& e) -> decltype(auto) { return f(*e); }, energy);
  }
};

template <class E>
using scalar_of = typename E::scalar_type;

/// value, gradient, value_and_gradient, dim, dtype and retrieve (as a module function
/// overloaded on the energy's class) for a Python energy class.
template <class Box>
void def_energy(nb::module_& m, nb::class_<Box>& cls) {
  cls.def(
         "value",
         [](const Box& b, nb::handle x) {
           return b.visit([&](const auto& e) -> any_array {
             using T = scalar_of<std::decay_t<decltype(e)>>;
             const auto v = batch_arg<T>(x, "x", e.dim());
             vector<T> out;
             {
               heavy_section section(b.lock);
               out = e.value(v.columns(), b.cached_workspace(e));
             }
             return any_array(array_of<T>(std::move(out)));
           });
         },
         nb::arg("x"), "E(x) of each row of x (B, D): an array (B,).")
      .def(
          "gradient",
          [](const Box& b, nb::handle x) {
            return b.visit([&](const auto& e) -> any_array {
              using T = scalar_of<std::decay_t<decltype(e)>>;
              const auto v = batch_arg<T>(x, "x", e.dim());
              matrix<T> g;
              {
                heavy_section section(b.lock);
                g = std::move(e.value_and_gradient(v.columns(), b.cached_workspace(e)).gradient);
              }
              return any_array(rows_of<T>(std::move(g)));
            });
          },
          nb::arg("x"), "grad E(x) of each row of x (B, D): an array (B, D).")
      .def(
          "value_and_gradient",
          [](const Box& b, nb::handle x) {
            return b.visit([&](const auto& e) -> std::pair<any_array, any_array> {
              using T = scalar_of<std::decay_t<decltype(e)>>;
              const auto v = batch_arg<T>(x, "x", e.dim());
              vector<T> value;
              matrix<T> gradient;
              {
                heavy_section section(b.lock);
                auto r = e.value_and_gradient(v.columns(), b.cached_workspace(e));
                value = std::move(r.value);
                gradient = std::move(r.gradient);
              }
              return {any_array(array_of<T>(std::move(value))),
                      any_array(rows_of<T>(std::move(gradient)))};
            });
          },
          nb::arg("x"), "(E(x), grad E(x)) of each row of x (B, D), in one pass.")
      .def_prop_ro(
          "dim", [](const Box& b) { return b.visit([](const auto& e) { return e.dim(); }); },
          "D, the dimension of a state")
      .def_prop_ro(
          "dtype",
          [](const Box& b) {
            return b.visit([](const auto& e) -> std::string {
              return dtype_name<scalar_of<std::decay_t<decltype(e)>>>();
            });
          },
          "'float32' or 'float64': the scalar type the energy computes in");

  m.def(
      "finite_energy_fraction",
      [](const Box& b, double lo, double hi, index samples, std::uint64_t seed, index batch) {
        return b.visit([&](const auto& e) {
          heavy_section section(b.lock);
          return finite_energy_fraction(
              e, lo, hi, monte_carlo_options{.samples = samples, .seed = seed, .batch = batch});
        });
      },
      nb::arg("energy"), nb::arg("lo"), nb::arg("hi"), nb::kw_only(), nb::arg("samples") = 100000,
      nb::arg("seed") = 0, nb::arg("batch") = 8192,
      "The Monte Carlo share of the box [lo, hi]^D where the energy is finite ([LSR]: the "
      "part of space some memory supports).");

  m.def(
      "retrieve",
      [](const Box& b, nb::handle queries, const py_stepper& stepper,
         const std::shared_ptr<const stop_rule_node>& stop, nb::object clamp, nb::object progress,
         bool record_trace) {
        const py_retrieve_options o{clamp, progress, record_trace};
        return b.visit([&](const auto& e) {
          return run_retrieve(e, b.lock, queries, stepper, stop, o,
                              progress.is_none() ? &b.workspace : nullptr);
        });
      },
      nb::arg("energy"), nb::arg("queries"), nb::arg("stepper"), nb::arg("stop"), nb::kw_only(),
      nb::arg("clamp").none() = nb::none(), nb::arg("progress").none() = nb::none(),
      nb::arg("record_trace") = false,
      "Descends `energy` from each row of `queries` (B, D) with `stepper` until `stop` ends it.\n"
      "\n"
      "clamp: bool (D,) or (B, D), True where a coordinate is held at its query value.\n"
      "progress: a callable given a RetrievalProgress after every step (raise to abort).\n"
      "record_trace: keep every sample's energy at every step (result.energy_trace).\n"
      "Returns a RetrievalResult. The GIL is released while it runs.");
}

}  // namespace engram::python
