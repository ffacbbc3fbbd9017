// Arrays, dtypes, errors, stop rules, steppers and the retrieval result: the parts of the
// binding that do not depend on an energy.
#include "common.hpp"

#include <algorithm>
#include <sstream>

namespace engram::python {

namespace {

/// numpy, imported once and never released (a static nb::object would be released after the
/// interpreter has shut down).
nb::handle numpy() {
  static nb::handle np = nb::module_::import_("numpy").release();
  return np;
}

std::string shape_of(nb::handle array) {
  const nb::object shape = array.attr("shape");
  return nb::repr(shape).c_str();
}

template <class T>
[[noreturn]] void refuse_dtype(const char* name, const dtype_info& d) {
  std::ostringstream s;
  s << name << " has dtype " << d.name << ", which does not convert exactly to " << dtype_name<T>()
    << " (the dtype of the memory it meets)";
  if (std::is_same_v<T, float> && d.kind == 'f')
    s << "; pass " << name << ".astype(numpy.float32) to round it, or build the memory from "
      << "float64 patterns";
  else
    s << "; convert it with .astype(numpy." << dtype_name<T>() << ")";
  throw nb::type_error(s.str().c_str());
}

/// Wide integers (int64, uint64, int32 for float32) convert when every value does: at most
/// 2^24 (float32) or 2^53 (float64) in magnitude. Python lists of ints arrive as int64.
template <class T>
bool integers_fit(nb::handle array, const dtype_info& d) {
  if (d.kind != 'i' && d.kind != 'u') return false;
  const std::int64_t limit =
      std::is_same_v<T, float> ? (std::int64_t(1) << 24) : (std::int64_t(1) << 53);
  // numpy compares the integers themselves with the limit, exactly.
  const nb::object high = array.attr("__gt__")(limit).attr("any")();
  const nb::object low = array.attr("__lt__")(-limit).attr("any")();
  return PyObject_IsTrue(high.ptr()) == 0 && PyObject_IsTrue(low.ptr()) == 0;
}

/// `object` as a C-contiguous array of T with `ndim` dimensions: in place when it already is
/// one, else one exact conversion (refused when lossy).
template <class T, std::size_t N>
using host_view = nb::ndarray<const T, nb::ndim<N>, nb::c_contig, nb::device::cpu>;

template <class T, std::size_t N>
std::pair<nb::object, host_view<T, N>> c_array(nb::handle object, const char* name) {
  using view = host_view<T, N>;
  view a;
  // The fast path: an array of T in C order is read where it lies.
  if (nb::try_cast(object, a, /*convert=*/false)) return {nb::borrow(object), a};
  // Arrays elsewhere (a CUDA tensor) are refused rather than read as host memory.
  nb::ndarray<> any;
  if (nb::try_cast(object, any, false) && any.device_type() != nb::device::cpu::value)
    throw nb::type_error((std::string(name) + " is not in host memory (DLPack device type " +
                          std::to_string(any.device_type()) + "); move it to the CPU first")
                             .c_str());
  nb::object array = numpy().attr("asarray")(object);
  const dtype_info d = dtype_of(array);
  const std::size_t ndim = nb::cast<std::size_t>(array.attr("ndim"));
  if (ndim != N) {
    std::ostringstream s;
    s << name << " must be " << N << "-D";
    if (N == 2) s << " (B, D), one row per sample";
    s << "; it has shape " << shape_of(array);
    if (N == 2 && ndim == 1) s << " (pass " << name << "[None, :] for a single sample)";
    throw nb::value_error(s.str().c_str());
  }
  if (!converts_exactly<T>(d) && !integers_fit<T>(array, d)) refuse_dtype<T>(name, d);
  nb::object copy = numpy().attr("ascontiguousarray")(array, nb::arg("dtype") = dtype_name<T>());
  if (!nb::try_cast(copy, a, false))
    throw nb::type_error(
        (std::string(name) + " could not be read as a C-contiguous " + dtype_name<T>() + " array")
            .c_str());
  return {copy, a};
}

}  // namespace

dtype_info dtype_of(nb::handle array) {
  nb::object d = array.attr("dtype");
  const std::string kind = nb::cast<std::string>(d.attr("kind"));
  return {kind.empty() ? '?' : kind[0], nb::cast<std::size_t>(d.attr("itemsize")),
          nb::str(nb::handle(d)).c_str()};
}

bool wants_double(nb::handle object, const char* name, nb::handle dtype) {
  if (!dtype.is_none()) {
    const nb::object d = numpy().attr("dtype")(dtype);
    const std::string n = nb::str(nb::handle(d)).c_str();
    if (n == "float32") return false;
    if (n == "float64") return true;
    throw nb::type_error(
        (std::string("dtype is ") + n + "; engram holds float32 or float64").c_str());
  }
  nb::object array = numpy().attr("asarray")(object);
  const dtype_info d = dtype_of(array);
  if (converts_exactly<float>(d) && d.kind == 'f') return false;  // float16 and float32
  if (converts_exactly<double>(d) || integers_fit<double>(array, d)) return true;
  refuse_dtype<double>(name, d);
}

template <class T>
batch_view<T> batch_arg(nb::handle object, const char* name, index dim) {
  auto [owner, a] = c_array<T, 2>(object, name);
  batch_view<T> v;
  v.owner = owner;
  v.data = a.data();
  v.batch = index(a.shape(0));
  v.dim = index(a.shape(1));
  if (dim >= 0 && v.dim != dim) {
    std::ostringstream s;
    s << name << " has shape (" << v.batch << ", " << v.dim << "): " << v.dim
      << " columns, where D = " << dim << " are required";
    throw nb::value_error(s.str().c_str());
  }
  return v;
}

template <class T>
batch_view<T> vector_arg(nb::handle object, const char* name, index size) {
  auto [owner, a] = c_array<T, 1>(object, name);
  batch_view<T> v;
  v.owner = owner;
  v.data = a.data();
  v.batch = 1;
  v.dim = index(a.shape(0));
  if (size >= 0 && v.dim != size) {
    std::ostringstream s;
    s << name << " has " << v.dim << " entries; " << size << " are required";
    throw nb::value_error(s.str().c_str());
  }
  return v;
}

template batch_view<float> batch_arg<float>(nb::handle, const char*, index);
template batch_view<double> batch_arg<double>(nb::handle, const char*, index);
template batch_view<float> vector_arg<float>(nb::handle, const char*, index);
template batch_view<double> vector_arg<double>(nb::handle, const char*, index);

mask mask_arg(nb::handle object, index dim, index batch) {
  nb::object array = numpy().attr("asarray")(object);
  const dtype_info d = dtype_of(array);
  if (d.kind != 'b')
    throw nb::type_error(("clamp must be an array of bool (True where a coordinate is held); "
                          "it has dtype " +
                          d.name)
                             .c_str());
  const std::size_t ndim = nb::cast<std::size_t>(array.attr("ndim"));
  nb::object c = numpy().attr("ascontiguousarray")(array);
  nb::ndarray<const bool, nb::c_contig> a;
  if (!nb::try_cast(c, a, false)) throw nb::type_error("clamp could not be read as bool");
  if (ndim == 1 && index(a.shape(0)) == dim) return Eigen::Map<const mask>(a.data(), dim, 1);
  if (ndim == 2 && index(a.shape(0)) == batch && index(a.shape(1)) == dim)
    return Eigen::Map<const mask>(a.data(), dim, batch);
  std::ostringstream s;
  s << "clamp has shape " << shape_of(array) << "; it must be (D,) = (" << dim
    << ",), shared by the batch, or (B, D) = (" << batch << ", " << dim << ")";
  throw nb::value_error(s.str().c_str());
}

// ------------------------------------------------------------------------------- stop rules

bool stop_rule_node::bounded() const {
  switch (k) {
    case kind::after:
      return true;
    case kind::any:
      return a->bounded() || b->bounded();
    case kind::all:
      return a->bounded() && b->bounded();
    default:
      return false;
  }
}

void stop_rule_node::validate() const {
  switch (k) {
    case kind::energy_change:
      return stop::energy_change(threshold).validate();
    case kind::gradient_norm:
      return stop::gradient_norm(threshold).validate();
    case kind::state_change:
      return stop::state_change(threshold).validate();
    case kind::fixed_point:
      return;
    case kind::after:
      return stop::after(steps).validate();
    default:
      a->validate(), b->validate();
  }
}

stop_status stop_rule_node::check(const column_state& c) const {
  // The leaves are engram's own rules and the combinations repeat stop::any_of / all_of, so a
  // rule built in Python stops a column exactly where the same rule written in C++ does.
  switch (k) {
    case kind::energy_change:
      return stop::energy_change(threshold).check(c);
    case kind::gradient_norm:
      return stop::gradient_norm(threshold).check(c);
    case kind::state_change:
      return stop::state_change(threshold).check(c);
    case kind::fixed_point:
      return stop::fixed_point().check(c);
    case kind::after:
      return stop::after(steps).check(c);
    case kind::any: {
      const stop_status x = a->check(c), y = b->check(c);
      if (x == stop_status::converged || y == stop_status::converged) return stop_status::converged;
      if (x == stop_status::halted || y == stop_status::halted) return stop_status::halted;
      return stop_status::running;
    }
    case kind::all: {
      const stop_status x = a->check(c), y = b->check(c);
      if (x == stop_status::running || y == stop_status::running) return stop_status::running;
      return x == stop_status::converged || y == stop_status::converged ? stop_status::converged
                                                                        : stop_status::halted;
    }
  }
  return stop_status::running;
}

std::string stop_rule_node::describe() const {
  std::ostringstream s;
  switch (k) {
    case kind::energy_change:
      s << "stop.energy_change(" << threshold << ")";
      break;
    case kind::gradient_norm:
      s << "stop.gradient_norm(" << threshold << ")";
      break;
    case kind::state_change:
      s << "stop.state_change(" << threshold << ")";
      break;
    case kind::fixed_point:
      s << "stop.fixed_point()";
      break;
    case kind::after:
      s << "stop.after(" << steps << ")";
      break;
    case kind::any:
      s << "(" << a->describe() << " | " << b->describe() << ")";
      break;
    case kind::all:
      s << "(" << a->describe() << " & " << b->describe() << ")";
      break;
  }
  return s.str();
}

runtime_stop checked_stop(const std::shared_ptr<const stop_rule_node>& rule) {
  if (!rule) throw nb::value_error("stop is None; give a rule such as stop.after(100)");
  if (!rule->bounded())
    throw nb::value_error(("stop rule " + rule->describe() +
                           " has no step limit and could run forever; combine it with a "
                           "limit: rule | stop.after(n)")
                              .c_str());
  rule->validate();
  return {rule};
}

// ------------------------------------------------------------------------------- errors

void register_errors(nb::module_&) {
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const not_finite& e) {
      PyErr_SetString(PyExc_FloatingPointError, e.what());
    } catch (const io_error& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
}

// ------------------------------------------------------------------------------- bindings

namespace {

using node = std::shared_ptr<const stop_rule_node>;

node leaf(stop_rule_node::kind k, double threshold, index steps = 0) {
  auto n = std::make_shared<stop_rule_node>();
  n->k = k;
  n->threshold = threshold;
  n->steps = steps;
  n->validate();
  return n;
}

node combine(stop_rule_node::kind k, const node& a, const node& b) {
  // Rules are trees checked (and freed) recursively: a bound on their depth keeps that from
  // exhausting the stack.
  constexpr int most = 256;
  if (std::max(a->depth, b->depth) >= most)
    throw nb::value_error(
        ("a stop rule may nest " + std::to_string(most) + " combinations deep at most").c_str());
  auto n = std::make_shared<stop_rule_node>();
  n->depth = std::max(a->depth, b->depth) + 1;
  n->k = k;
  n->a = a;
  n->b = b;
  return n;
}

}  // namespace

progress_callback progress_of(nb::handle callback) {
  if (callback.is_none()) return {};
  return [call = python_callable{callback}](const work_progress& p) { call(p); };
}

void refuse_if_busy(const shared_lock& lock, const char* what) {
  if (lock->busy > 0)
    throw memory_changed(std::string(what) +
                         " would change the memory while a call reading it is under way (from "
                         "its progress callback); change it after the call returns");
}

void bind_census(nb::module_& m) {
  nb::class_<py_minima_census>(m, "MinimaCensus",
                               "Local minima of an energy, classified against the stored "
                               "patterns ([LSR] Definitions 2 and 3).")
      .def_ro("minima", &py_minima_census::minima, "(M, D), one minimum per row")
      .def_ro("energies", &py_minima_census::energies, "(M,) the energy of each minimum")
      .def_ro("supports", &py_minima_census::supports,
              "for LSR minima, the patterns each is the centroid of (int64 arrays, "
              "ascending); descent_minima leaves this list empty")
      .def_ro("emergent", &py_minima_census::emergent, "(M,) bool: not a stored pattern")
      .def_ro("retrievable", &py_minima_census::retrievable,
              "(K,) bool: the stored pattern is still a minimum")
      .def_ro("unfinished", &py_minima_census::unfinished,
              "descent_minima: starts that did not converge (halted or unsupported)")
      .def_prop_ro(
          "count", [](const py_minima_census& c) { return nb::len(c.energies); },
          "M, the minima found")
      .def_prop_ro(
          "emergent_count",
          [](const py_minima_census& c) { return nb::cast<index>(c.emergent.attr("sum")()); },
          "minima that are not stored patterns")
      .def_prop_ro(
          "stored_count",
          [](const py_minima_census& c) {
            return index(nb::len(c.energies)) - nb::cast<index>(c.emergent.attr("sum")());
          },
          "minima that are stored patterns")
      .def_prop_ro(
          "retrievable_count",
          [](const py_minima_census& c) { return nb::cast<index>(c.retrievable.attr("sum")()); },
          "stored patterns that are still minima");
}

void bind_common(nb::module_& m) {
  nb::class_<work_progress>(m, "WorkProgress", "What a progress callback of a long call receives.")
      .def_ro("done", &work_progress::done, "items done so far")
      .def_ro("total", &work_progress::total, "items in all");

  using K = stop_rule_node::kind;
  nb::class_<stop_rule_node>(m, "StopRule",
                             "When retrieval ends a sample. Build one with the functions of "
                             "engram.stop and combine with | (either) and & (both).")
      .def(
          "__or__", [](const node& a, const node& b) { return combine(K::any, a, b); },
          "Stop when either rule says so (C++ ||).")
      .def(
          "__and__", [](const node& a, const node& b) { return combine(K::all, a, b); },
          "Stop when both rules say so (C++ &&).")
      .def_prop_ro("bounded", &stop_rule_node::bounded,
                   "True when the rule halts every sample after finitely many steps (it "
                   "contains stop.after on every path); retrieve() requires it.")
      .def("__repr__", &stop_rule_node::describe);

  nb::module_ s = m.def_submodule("stop", "Stop rules for retrieve(), judged per sample.");
  s.def(
      "energy_change", [](double eps) { return leaf(K::energy_change, eps); }, nb::arg("eps"),
      "Converged once |E(x_t) - E(x_{t-1})| < eps (after at least one step).");
  s.def(
      "gradient_norm", [](double delta) { return leaf(K::gradient_norm, delta); }, nb::arg("delta"),
      "Converged once ||dx/dt|| < delta, held coordinates excluded.");
  s.def(
      "state_change", [](double tol) { return leaf(K::state_change, tol); }, nb::arg("tol"),
      "Converged once ||x_t - x_{t-1}|| < tol (after at least one step).");
  s.def(
      "fixed_point", []() { return leaf(K::fixed_point, 0); },
      "Converged once a step leaves the state exactly unchanged (LSR's centroid iteration).");
  s.def(
      "after", [](index steps) { return leaf(K::after, 0, steps); }, nb::arg("steps"),
      "Halted (not converged) once `steps` steps have been taken.");

  nb::class_<py_gradient_descent>(m, "GradientDescent",
                                  "x <- x - step * grad E(x): explicit Euler on the gradient "
                                  "flow.")
      .def(
          "__init__",
          [](py_gradient_descent* p, double step) { new (p) py_gradient_descent{step}; },
          nb::arg("step") = 0.1, "Gradient descent with step size `step` > 0.")
      .def_rw("step", &py_gradient_descent::step, "eta, the step size")
      .def("__repr__", [](const py_gradient_descent& p) {
        return "GradientDescent(step=" + std::to_string(p.step) + ")";
      });
  nb::class_<py_momentum>(m, "Momentum",
                          "Heavy-ball descent: velocity v <- coefficient v - step grad E.")
      .def(
          "__init__",
          [](py_momentum* p, double step, double coefficient) {
            new (p) py_momentum{step, coefficient};
          },
          nb::arg("step") = 0.1, nb::arg("coefficient") = 0.9,
          "Heavy-ball descent with step h > 0 and momentum coefficient mu in [0, 1).")
      .def_rw("step", &py_momentum::step, "h, the step size")
      .def_rw("coefficient", &py_momentum::coefficient, "mu in [0, 1)");
  nb::class_<py_rk4>(m, "RK4", "Classic fourth-order Runge-Kutta on the gradient flow.")
      .def(
          "__init__", [](py_rk4* p, double step) { new (p) py_rk4{step}; }, nb::arg("step") = 0.1,
          "Runge-Kutta 4 with step h > 0.")
      .def_rw("step", &py_rk4::step, "h, the step size");
  nb::class_<py_dormand_prince>(m, "DormandPrince",
                                "Adaptive Dormand-Prince 5(4), one step size per sample; a "
                                "sample whose step falls below min_step is reported diverged.")
      .def(
          "__init__",
          [](py_dormand_prince* p, double initial_step, double abs_tolerance, double rel_tolerance,
             double max_step, double min_step, index max_attempts) {
            new (p) py_dormand_prince{initial_step, abs_tolerance, rel_tolerance,
                                      max_step,     min_step,      max_attempts};
          },
          nb::arg("initial_step") = 0.01, nb::arg("abs_tolerance") = 1e-6,
          nb::arg("rel_tolerance") = 1e-6, nb::arg("max_step") = 1e3, nb::arg("min_step") = 1e-12,
          nb::arg("max_attempts") = 64,
          "Adaptive steps from initial_step, kept within abs_tolerance + rel_tolerance |x| "
          "per step, between min_step and max_step.")
      .def_rw("initial_step", &py_dormand_prince::initial_step, "h_0 of every sample")
      .def_rw("abs_tolerance", &py_dormand_prince::abs_tolerance, "atol")
      .def_rw("rel_tolerance", &py_dormand_prince::rel_tolerance, "rtol")
      .def_rw("max_step", &py_dormand_prince::max_step, "h never grows beyond this")
      .def_rw("min_step", &py_dormand_prince::min_step,
              "a sample needing a smaller step has failed (diverged)")
      .def_rw("max_attempts", &py_dormand_prince::max_attempts,
              "rejected tries allowed within one step");
  nb::class_<py_centroid_iteration>(
      m, "CentroidIteration",
      "LSR's Algorithm 1: x <- the mean of the patterns in x's support (compact energies only). "
      "A state with an empty support stays put, or takes a gradient step of outside_step.")
      .def(
          "__init__",
          [](py_centroid_iteration* p, double outside_step) {
            new (p) py_centroid_iteration{outside_step};
          },
          nb::arg("outside_step") = 0.0,
          "The centroid map; states outside every support take a gradient step of "
          "outside_step (0: they stay put).")
      .def_rw("outside_step", &py_centroid_iteration::outside_step,
              "the gradient step of a state outside every support (0: it stays put)");

  nb::class_<retrieval_progress>(m, "RetrievalProgress",
                                 "What a progress callback receives after every step.")
      .def_ro("step", &retrieval_progress::step, "steps taken so far")
      .def_ro("active", &retrieval_progress::active, "samples still moving")
      .def_ro("batch", &retrieval_progress::batch, "samples in the batch");

  nb::class_<py_retrieval_result>(m, "RetrievalResult",
                                  "What retrieve() returns: one row or entry per sample.")
      .def_prop_ro(
          "states", [](const py_retrieval_result& r) { return r.states; }, nb::rv_policy::automatic,
          "(B, D) final states")
      .def_prop_ro(
          "energies", [](const py_retrieval_result& r) { return r.energies; },
          nb::rv_policy::automatic, "(B,) energy of each final state")
      .def_prop_ro(
          "steps", [](const py_retrieval_result& r) { return r.steps; }, nb::rv_policy::automatic,
          "(B,) int64: steps each sample took")
      .def_prop_ro(
          "converged", [](const py_retrieval_result& r) { return r.converged; },
          nb::rv_policy::automatic,
          "(B,) bool: stopped by a convergence criterion rather than the step limit")
      .def_prop_ro(
          "unsupported", [](const py_retrieval_result& r) { return r.unsupported; },
          nb::rv_policy::automatic,
          "(B,) bool: stopped where no memory reaches the state (the energy's ceiling)")
      .def_prop_ro(
          "diverged", [](const py_retrieval_result& r) { return r.diverged; },
          nb::rv_policy::automatic,
          "(B,) bool: a step left the finite numbers (the sample keeps its last finite "
          "state)")
      .def_prop_ro(
          "energy_trace", [](const py_retrieval_result& r) { return r.energy_trace; },
          nb::rv_policy::automatic,
          "(T + 1, B) energies at every step when record_trace=True, else None")
      .def_prop_ro(
          "all_converged",
          [](const py_retrieval_result& r) {
            const bool* c = static_cast<const bool*>(r.converged.data());
            return std::all_of(c, c + r.converged.size(), [](bool b) { return b; });
          },
          "True when every sample converged");

  m.def(
      "batch_address",
      [](nb::handle x, nb::handle dtype) {
        const bool dbl = wants_double(x, "x", dtype);
        return dbl ? std::uintptr_t(batch_arg<double>(x, "x").data)
                   : std::uintptr_t(batch_arg<float>(x, "x").data);
      },
      nb::arg("x"), nb::arg("dtype").none() = nb::none(),
      "The address of the (B, D) buffer engram reads when given x for an energy of `dtype` "
      "(default: x's own when it is float32 or float64): x's own buffer when x is C-contiguous "
      "of that dtype (no copy), else a copy's. For checking that a call reads in place.");
}

}  // namespace engram::python
