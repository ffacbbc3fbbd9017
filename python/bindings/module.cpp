// The extension module engram._engram; the package engram (src/engram/__init__.py) re-exports it.
#include "common.hpp"

NB_MODULE(_engram, m) {
  namespace py = engram::python;
  m.doc() =
      "engram: dense associative memories (modern Hopfield networks). Arrays are numpy's: "
      "patterns (K, D) and states (B, D), one row per sample, float32 or float64.";
  py::register_errors(m);
  py::bind_common(m);
  py::bind_census(m);
  py::bind_dense(m);
  py::bind_random_features(m);
  py::bind_analysis(m);
  py::bind_random(m);
  py::bind_io(m);
  py::bind_learning(m);
  py::bind_spins(m);
}
