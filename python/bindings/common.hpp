// What every binding translation unit shares: arrays between numpy's row-major (B, D) and
// engram's column-major D x B, the dtype rule, Python exceptions for engram's errors, the lock
// a memory shares with its energies, and the runtime stop rule and stepper choice.
//
// Layout: a C-contiguous (B, D) array holds sample b's D numbers one after another, which is
// exactly a column-major D x B matrix; such an array of the energy's dtype is read in place
// (an Eigen::Map over numpy's buffer, no copy). Anything else (Fortran order, strided views,
// another dtype converted exactly) is copied once into a C-contiguous array first. Results are
// Eigen matrices moved onto the heap and handed to numpy with a capsule that frees them: no copy.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <engram/engram.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

namespace engram::python {

namespace nb = nanobind;

// ------------------------------------------------------------------------------- dtypes

/// The two scalar types engram is built for, as numpy names them.
template <class T>
constexpr const char* dtype_name() {
  return std::is_same_v<T, float> ? "float32" : "float64";
}

/// A numpy array's dtype as (kind, itemsize): 'f' float, 'i' int, 'u' unsigned, 'b' bool, ...
struct dtype_info {
  char kind;
  std::size_t itemsize;
  std::string name;
};

dtype_info dtype_of(nb::handle array);

/// The conversion rule: an array is read as T where every value it can hold is a T exactly.
/// float32 -> float64, float16 -> either, ints of up to 16 bits -> either, 32-bit ints ->
/// float64; wider integers when every value fits the mantissa (common.cpp, integers_fit).
/// Everything else (float64 -> float32, bool, complex, objects) is refused with TypeError naming
/// the argument, its dtype and what to do.
template <class T>
bool converts_exactly(const dtype_info& d) {
  const std::size_t mantissa_bits = std::is_same_v<T, float> ? 24 : 53;
  switch (d.kind) {
    case 'f':
      return d.itemsize * 8 <= (std::is_same_v<T, float> ? 32u : 64u);
    case 'i':
      return d.itemsize * 8 - 1 <= mantissa_bits;
    case 'u':
      return d.itemsize * 8 <= mantissa_bits;
    default:
      return false;
  }
}

/// Which scalar type a memory built from `array` holds: float32 for float32 and float16 data,
/// float64 otherwise (float64, or ints exactly representable there); `dtype` overrides (the
/// strings "float32" / "float64" or the numpy dtypes).
bool wants_double(nb::handle array, const char* name, nb::handle dtype);

// ------------------------------------------------------------------------------- arrays in

/// A batch given as (B, D), seen as the column-major D x B matrix engram takes.
template <class T>
struct batch_view {
  nb::object owner;  ///< the array read: the caller's, or the copy made of it
  const T* data = nullptr;
  index batch = 0, dim = 0;

  Eigen::Map<const matrix<T>> columns() const { return {data, dim, batch}; }
};

/// Reads `object` (any array-like) as a (B, D) batch of T; `dim` >= 0 requires D = dim.
/// Arrays on a device other than the CPU are refused (TypeError).
template <class T>
batch_view<T> batch_arg(nb::handle object, const char* name, index dim = -1);

/// Reads a 1-D array-like of T (bias, thresholds).
template <class T>
batch_view<T> vector_arg(nb::handle object, const char* name, index size = -1);

/// A clamp mask: (D,) shared by the batch, or (B, D) per sample, of bool.
mask mask_arg(nb::handle object, index dim, index batch);

// ------------------------------------------------------------------------------- arrays out

template <class T>
using array_out = nb::ndarray<nb::numpy, T>;
/// A numpy array of either dtype: what a call returns whose dtype follows the memory's (typed
/// numpy.ndarray in the stubs).
using any_array = nb::ndarray<nb::numpy>;

/// A D x B matrix as a (B, D) numpy array that owns it (moved, not copied).
template <class T>
array_out<T> rows_of(matrix<T>&& m) {
  auto* owned = new matrix<T>(std::move(m));
  nb::capsule free(owned, [](void* p) noexcept { delete static_cast<matrix<T>*>(p); });
  const std::size_t shape[2] = {std::size_t(owned->cols()), std::size_t(owned->rows())};
  return array_out<T>(owned->data(), 2, shape, free);
}

/// A vector as a 1-D numpy array that owns it.
template <class T, class V>
array_out<T> array_of(V&& v) {
  using stored = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  auto* owned = new stored(std::forward<V>(v).template cast<T>());
  nb::capsule free(owned, [](void* p) noexcept { delete static_cast<stored*>(p); });
  const std::size_t shape[1] = {std::size_t(owned->size())};
  return array_out<T>(owned->data(), 1, shape, free);
}

// ------------------------------------------------------------------------------- locks

/// One guard per memory, shared by every energy over it: calls run with the GIL released, so two
/// Python threads could otherwise change a memory while an energy reads it. The mutex is
/// recursive, so that a callback may call back into engram from the thread that holds it; `busy`
/// counts the calls under way that hold references into the memory while they call Python
/// (retrieval, enumeration, encoding with a progress callback), and add() and remove() refuse
/// to run while it is not zero.
struct memory_guard {
  std::recursive_mutex mutex;
  int busy = 0;
};
using shared_lock = std::shared_ptr<memory_guard>;

inline shared_lock make_guard() {
  return std::make_shared<memory_guard>();
}

/// Releases the GIL, then takes the memory's lock (in that order: a thread holding the lock may
/// need the GIL for a progress callback).
struct heavy_section {
  nb::gil_scoped_release release;
  std::lock_guard<std::recursive_mutex> hold;
  explicit heavy_section(const shared_lock& lock) : hold(lock->mutex) {}
};

/// Marks the memory busy while a call that calls Python runs (taken inside a heavy_section).
struct busy_section {
  memory_guard& guard;
  explicit busy_section(const shared_lock& lock) : guard(*lock) { ++guard.busy; }
  ~busy_section() { --guard.busy; }
  busy_section(const busy_section&) = delete;
  busy_section& operator=(const busy_section&) = delete;
};

/// Throws memory_changed (RuntimeError) when `what` would change a memory that a call under way
/// is reading: from a progress callback of that call. Called inside a heavy_section (any other
/// thread waits for the lock, and finds the memory idle once it has it).
void refuse_if_busy(const shared_lock& lock, const char* what);

/// A Python callable held by a C++ callback: borrowed (the caller's arguments keep it alive for
/// the call), so that copying the callback where the GIL is released touches no reference count.
struct python_callable {
  nb::handle callable;
  /// Calls it with the GIL held; its result is dropped while the GIL is still held.
  template <class... A>
  void operator()(A&&... a) const {
    nb::gil_scoped_acquire gil;
    callable(std::forward<A>(a)...);
  }
};

// ------------------------------------------------------------------------------- stop rules

/// A stop rule built at run time from Python: engram's leaves combined with | and &.
struct stop_rule_node {
  enum class kind { energy_change, gradient_norm, state_change, fixed_point, after, any, all };
  kind k = kind::after;
  double threshold = 0;
  index steps = 0;
  int depth = 1;  ///< nodes on the longest path from here to a leaf
  std::shared_ptr<const stop_rule_node> a, b;

  bool bounded() const;
  void validate() const;
  stop_status check(const column_state& c) const;
  std::string describe() const;
};

/// The rule integrate() sees. It declares itself bounded; the binding checks bounded() first and
/// raises ValueError for a rule without a step limit, which would not compile in C++.
struct runtime_stop {
  static constexpr bool bounded = true;
  std::shared_ptr<const stop_rule_node> rule;
  void validate() const { rule->validate(); }
  stop_status check(const column_state& c) const { return rule->check(c); }
};

runtime_stop checked_stop(const std::shared_ptr<const stop_rule_node>& rule);

// ------------------------------------------------------------------------------- steppers

struct py_gradient_descent {
  double step = 0.1;
};
struct py_momentum {
  double step = 0.1, coefficient = 0.9;
};
struct py_rk4 {
  double step = 0.1;
};
struct py_dormand_prince {
  double initial_step = 0.01, abs_tolerance = 1e-6, rel_tolerance = 1e-6, max_step = 1e3,
         min_step = 1e-12;
  index max_attempts = 64;
};
struct py_centroid_iteration {
  double outside_step = 0;
};
using py_stepper = std::variant<py_gradient_descent, py_momentum, py_rk4, py_dormand_prince,
                                py_centroid_iteration>;

/// Calls f with the engram stepper for scalar T that `s` describes.
template <class T, class F>
decltype(auto) with_stepper(const py_stepper& s, F&& f) {
  return std::visit(
      [&](const auto& p) -> decltype(auto) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, py_gradient_descent>)
          return f(gradient_descent<T>{.step = T(p.step)});
        else if constexpr (std::is_same_v<P, py_momentum>)
          return f(momentum<T>{.step = T(p.step), .coefficient = T(p.coefficient)});
        else if constexpr (std::is_same_v<P, py_rk4>)
          return f(rk4<T>{.step = T(p.step)});
        else if constexpr (std::is_same_v<P, py_dormand_prince>)
          return f(dormand_prince<T>{.initial_step = T(p.initial_step),
                                     .abs_tolerance = T(p.abs_tolerance),
                                     .rel_tolerance = T(p.rel_tolerance),
                                     .max_step = T(p.max_step),
                                     .min_step = T(p.min_step),
                                     .max_attempts = p.max_attempts});
        else
          return f(centroid_iteration<T>{.outside_step = T(p.outside_step)});
      },
      s);
}

// ------------------------------------------------------------------------------- results

/// What retrieve returns to Python: numpy arrays, one row (or entry) per sample.
struct py_retrieval_result {
  any_array states, energies, steps, converged, unsupported, diverged;
  std::optional<any_array> energy_trace;
};

/// A census of minima (enumerate_lsr_minima, descent_minima) as numpy arrays.
struct py_minima_census {
  nb::object minima, energies, supports, emergent, retrievable;
  index unfinished = 0;
};

template <class T>
py_minima_census census_of(minima_census<T>&& c, index unfinished) {
  py_minima_census out;
  out.minima = nb::cast(rows_of<T>(std::move(c.minima)));
  out.energies = nb::cast(array_of<T>(std::move(c.energies)));
  nb::list supports;
  for (const auto& s : c.supports)
    supports.append(array_of<std::int64_t>(
        Eigen::Map<const Eigen::Matrix<index, Eigen::Dynamic, 1>>(s.data(), index(s.size()))));
  out.supports = supports;
  out.emergent = nb::cast(array_of<bool>(std::move(c.emergent)));
  out.retrievable = nb::cast(array_of<bool>(std::move(c.retrievable)));
  out.unfinished = unfinished;
  return out;
}

/// A Python callable (or None) as a progress_callback (work_progress), called with the GIL held.
progress_callback progress_of(nb::handle callback);

/// The options of retrieve() as Python gives them.
struct py_retrieve_options {
  nb::object clamp;
  nb::object progress;
  bool record_trace = false;
};

/// Runs engram::retrieve on `energy` under the memory's lock with the GIL released, and turns
/// the result into numpy arrays; `workspace` (may be null) is the slot of the energy's kept
/// workspace, filled under the lock on first use.
template <class Energy>
py_retrieval_result run_retrieve(const Energy& energy, const shared_lock& lock, nb::handle queries,
                                 const py_stepper& stepper,
                                 const std::shared_ptr<const stop_rule_node>& stop,
                                 const py_retrieve_options& options,
                                 std::shared_ptr<void>* workspace);

// ------------------------------------------------------------------------------- registration

void register_errors(nb::module_& m);
void bind_common(nb::module_& m);
void bind_dense(nb::module_& m);
void bind_random_features(nb::module_& m);
void bind_analysis(nb::module_& m);
void bind_io(nb::module_& m);
void bind_census(nb::module_& m);
void bind_random(nb::module_& m);
void bind_learning(nb::module_& m);
void bind_spins(nb::module_& m);

}  // namespace engram::python

#include "retrieve_impl.hpp"
