// Dense memories and the energies over them: LSE, LSE-dot, normalized LSE, LSR, the hybrid and
// the (rectified) power energies.
#include "energy_box.hpp"

#ifdef ENGRAM_PYTHON_IO
#include <engram/io.hpp>
#endif

#include <sstream>

namespace engram::python {

namespace {

struct py_dense_memory {
  std::variant<std::unique_ptr<dense_memory<float>>, std::unique_ptr<dense_memory<double>>> memory;
  shared_lock lock = make_guard();

  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit([&](const auto& m) -> decltype(auto) { return f(*m); }, memory);
  }
  bool is_double() const { return memory.index() == 1; }
  template <class T>
  const dense_memory<T>& as() const {
    return *std::get<std::unique_ptr<dense_memory<T>>>(memory);
  }
};

/// Builds an energy box over `memory` with make(memory_of_T) for the memory's scalar type.
/// The energy is made first, so a constructor that throws leaves nothing half-built.
template <class Box, class Make>
void construct(Box* box, const py_dense_memory& memory, Make&& make) {
  using held = decltype(Box::energy);
  held e = memory.is_double() ? held(make(memory.as<double>())) : held(make(memory.as<float>()));
  new (box) Box();
  box->energy = std::move(e);
  box->lock = memory.lock;
}

support_method method_of(const std::string& name) {
  if (name == "automatic") return support_method::automatic;
  if (name == "kd_tree") return support_method::kd_tree;
  if (name == "brute_force") return support_method::brute_force;
  throw nb::value_error(
      ("support is '" + name + "'; it must be 'automatic', 'kd_tree' or 'brute_force'").c_str());
}

struct py_lse : energy_box<lse_energy<float>, lse_energy<double>> {};
struct py_lse_dot : energy_box<lse_dot_energy<float>, lse_dot_energy<double>> {};
template <class T>
using linear_gaussian_energy = dense_energy<gaussian, linear_scaling, T>;
template <class T>
using linear_exp_dot_energy = dense_energy<exp_dot, linear_scaling, T>;
struct py_linear_gaussian
    : energy_box<linear_gaussian_energy<float>, linear_gaussian_energy<double>> {};
struct py_linear_exp_dot : energy_box<linear_exp_dot_energy<float>, linear_exp_dot_energy<double>> {
};
struct py_normalized_lse : energy_box<normalized_lse_energy<float>, normalized_lse_energy<double>> {
};
struct py_lsr : energy_box<lsr_energy<float>, lsr_energy<double>> {};
struct py_hybrid : energy_box<hybrid_energy<float>, hybrid_energy<double>> {};
struct py_power
    : energy_box<power_energy<2, float>, power_energy<2, double>, power_energy<3, float>,
                 power_energy<3, double>, power_energy<4, float>, power_energy<4, double>,
                 rectified_power_energy<2, float>, rectified_power_energy<2, double>,
                 rectified_power_energy<3, float>, rectified_power_energy<3, double>,
                 rectified_power_energy<4, float>, rectified_power_energy<4, double>> {
  int n = 2;
  bool rectified = false;
};

template <int N, bool Rectified, class T>
auto make_power(const dense_memory<T>& m) {
  if constexpr (Rectified)
    return std::make_unique<rectified_power_energy<N, T>>(m, T(1));  // beta plays no part
  else
    return std::make_unique<power_energy<N, T>>(m, T(1));
}

template <bool Rectified, class T>
void set_power(py_power& p, const dense_memory<T>& m, int n) {
  switch (n) {
    case 2:
      p.energy = make_power<2, Rectified>(m);
      return;
    case 3:
      p.energy = make_power<3, Rectified>(m);
      return;
    case 4:
      p.energy = make_power<4, Rectified>(m);
      return;
    default:
      throw nb::value_error(
          ("n is " + std::to_string(n) + "; the Python module is built for n = 2, 3 and 4")
              .c_str());
  }
}

/// The supports of LSR-like energies as a list of int64 arrays.
template <class Box>
void def_supports(nb::class_<Box>& cls) {
  cls.def(
         "supports",
         [](const Box& b, nb::handle x) {
           return b.visit([&](const auto& e) {
             using T = scalar_of<std::decay_t<decltype(e)>>;
             const auto v = batch_arg<T>(x, "x", e.dim());
             std::vector<std::vector<index>> s;
             {
               heavy_section section(b.lock);
               if constexpr (requires { e.supports(v.columns()); })
                 s = e.supports(v.columns());
               else
                 s = e.lsr().supports(v.columns());
             }
             nb::list out;
             for (auto& members : s)
               out.append(
                   array_of<std::int64_t>(Eigen::Map<const Eigen::Matrix<index, Eigen::Dynamic, 1>>(
                       members.data(), index(members.size()))));
             return out;
           });
         },
         nb::arg("x"),
         "For each row of x, the indices of the patterns within the support radius (strictly), "
         "in the order the energy sums them: a list of int64 arrays.")
      .def_prop_ro(
          "support_radius",
          [](const Box& b) {
            return b.visit([](const auto& e) -> double {
              if constexpr (requires { e.support_radius(); })
                return double(e.support_radius());
              else
                return double(e.lsr().support_radius());
            });
          },
          "sqrt(2 / beta): a pattern interacts with x only when strictly closer than this");
}

template <class Box>
void def_beta(nb::class_<Box>& cls) {
  cls.def_prop_ro(
      "beta", [](const Box& b) { return b.visit([](const auto& e) { return double(e.beta()); }); },
      "the inverse temperature");
}

/// descent_minima for one energy class: retrieve from every start, merge and classify.
template <class Box>
void def_descent_minima(nb::module_& m) {
  m.def(
      "descent_minima",
      [](const Box& b, nb::handle patterns, nb::handle starts, const py_stepper& stepper,
         const std::shared_ptr<const stop_rule_node>& stop, double tolerance, nb::object progress) {
        return b.visit([&](const auto& e) {
          using T = scalar_of<std::decay_t<decltype(e)>>;
          const auto p = batch_arg<T>(patterns, "patterns", e.dim());
          const auto x = batch_arg<T>(starts, "starts", e.dim());
          const runtime_stop rule = checked_stop(stop);
          descent_census_options o{.tolerance = tolerance};
          if (!progress.is_none())
            o.progress = [call = python_callable{progress}](const retrieval_progress& r) {
              call(r);
            };
          auto census = with_stepper<T>(stepper, [&](const auto& s) -> descent_census<T> {
            using S = std::decay_t<decltype(s)>;
            if constexpr (stepper_for<S, gradient_flow<std::decay_t<decltype(e)>>>) {
              heavy_section section(b.lock);
              busy_section busy(b.lock);
              return descent_minima(e, p.columns(), x.columns(), s, rule, o);
            } else {
              throw invalid_argument(
                  "stepper CentroidIteration needs an energy with a compact "
                  "kernel (LSR, Hybrid)");
            }
          });
          const index unfinished = census.unfinished;
          return census_of<T>(std::move(census), unfinished);
        });
      },
      nb::arg("energy"), nb::arg("patterns"), nb::arg("starts"), nb::arg("stepper"),
      nb::arg("stop"), nb::kw_only(), nb::arg("tolerance") = 1e-4,
      nb::arg("progress").none() = nb::none(),
      "The distinct converged end points of descent from each row of starts (n, D), "
      "classified against patterns (K, D): end points closer than tolerance are one minimum, "
      "and a minimum that close to a stored pattern is that pattern ([LSR]'s census of LSE).");
}

template <class T>
using lse_of = lse_energy<T>;
template <class T>
using lse_dot_of = lse_dot_energy<T>;

/// A class for an energy made from (memory, beta), with every energy's methods and `beta`.
template <class Box, template <class> class Energy>
void def_beta_energy(nb::module_& m, const char* name, const char* doc) {
  auto cls = nb::class_<Box>(m, name, doc);
  cls.def(
      "__init__",
      [](Box* self, const py_dense_memory& memory, double beta) {
        construct(self, memory, [&]<class T>(const dense_memory<T>& mem) {
          return std::make_unique<Energy<T>>(mem, T(beta));
        });
      },
      nb::arg("memory"), nb::arg("beta"), nb::keep_alive<1, 2>(),
      "The energy over `memory` (kept alive, changes seen) at inverse temperature beta > 0.");
  def_energy(m, cls);
  def_beta(cls);
}

}  // namespace

void bind_dense(nb::module_& m) {
  nb::class_<py_dense_memory>(
      m, "DenseMemory",
      "K patterns of dimension D, stored as given (a copy: the memory grows and shrinks with "
      "add and remove). Energies built over it keep it alive and see later changes.")
      .def(
          "__init__",
          [](py_dense_memory* self, nb::handle patterns, nb::handle dtype) {
            const bool dbl = wants_double(patterns, "patterns", dtype);
            auto make = [&]<class T>(T*) -> decltype(py_dense_memory::memory) {
              const auto v = batch_arg<T>(patterns, "patterns");
              return std::make_unique<dense_memory<T>>(v.columns());
            };
            auto memory = dbl ? make((double*)nullptr) : make((float*)nullptr);
            new (self) py_dense_memory();
            self->memory = std::move(memory);
          },
          nb::arg("patterns"), nb::arg("dtype").none() = nb::none(),
          "patterns: (K, D), one pattern per row. dtype: float32 or float64; by default float32 "
          "for float32 (and float16) patterns, float64 otherwise.")
      .def(
          "add",
          [](py_dense_memory& self, nb::handle patterns) {
            return self.visit([&](auto& mem) {
              using T = typename std::decay_t<decltype(mem)>::scalar_type;
              const auto v = batch_arg<T>(patterns, "patterns", mem.dim());
              heavy_section section(self.lock);
              refuse_if_busy(self.lock, "DenseMemory.add");
              return mem.add(v.columns());
            });
          },
          nb::arg("patterns"), "Appends the rows of patterns (n, D); returns the first new index.")
      .def(
          "remove",
          [](py_dense_memory& self, std::vector<index> indices) {
            self.visit([&](auto& mem) {
              heavy_section section(self.lock);
              refuse_if_busy(self.lock, "DenseMemory.remove");
              mem.remove(std::move(indices));
            });
          },
          nb::arg("indices"),
          "Removes the patterns at these indices (any order, no duplicates); later patterns move "
          "down.")
      .def(
          "__len__",
          [](const py_dense_memory& self) {
            return self.visit([](const auto& mem) { return mem.size(); });
          },
          "K, the number of patterns")
      .def_prop_ro(
          "size",
          [](const py_dense_memory& self) {
            return self.visit([](const auto& mem) { return mem.size(); });
          },
          "K, the number of patterns")
      .def_prop_ro(
          "dim",
          [](const py_dense_memory& self) {
            return self.visit([](const auto& mem) { return mem.dim(); });
          },
          "D, the dimension of a pattern")
      .def_prop_ro(
          "dtype",
          [](const py_dense_memory& self) -> std::string {
            return self.is_double() ? "float64" : "float32";
          },
          "'float32' or 'float64'")
      .def_prop_ro(
          "patterns",
          [](const py_dense_memory& self) {
            return self.visit([&](const auto& mem) -> nb::object {
              using T = typename std::decay_t<decltype(mem)>::scalar_type;
              matrix<T> copy;
              {
                heavy_section section(self.lock);
                copy = mem.patterns();
              }
              return nb::cast(rows_of<T>(std::move(copy)));
            });
          },
          "A copy of the patterns, (K, D).")
#ifdef ENGRAM_PYTHON_IO
      .def(
          "save",
          [](const py_dense_memory& self, const std::string& path) {
            self.visit([&](const auto& mem) {
              heavy_section section(self.lock);
              io::save_memory(path, mem);
            });
          },
          nb::arg("path"),
          "Writes the memory to a file (engram's memory format, with CRCs; written aside and "
          "renamed, so a reader never sees part of it). OSError when it cannot.")
      .def_static(
          "load",
          [](const std::string& path, nb::handle dtype) {
            const auto header = io::read_memory_file_header(path);
            if (header.object != io::memory_object::dense)
              throw nb::value_error(
                  ("'" + path + "' holds a distributed memory; use DistributedMemory.load")
                      .c_str());
            const bool dbl = dtype.is_none() ? header.scalar_bytes == 8
                                             : wants_double(nb::none(), "dtype", dtype);
            if (header.scalar_bytes == 8 && !dbl)
              throw nb::type_error(("'" + path +
                                    "' holds float64 patterns; loading them as float32 would "
                                    "round them (omit dtype to load float64)")
                                       .c_str());
            py_dense_memory out;
            nb::gil_scoped_release release;
            if (dbl)
              out.memory = std::make_unique<dense_memory<double>>(
                  io::load_memory<dense_memory<double>>(path));
            else
              out.memory =
                  std::make_unique<dense_memory<float>>(io::load_memory<dense_memory<float>>(path));
            return out;
          },
          nb::arg("path"), nb::arg("dtype").none() = nb::none(),
          "Reads a memory saved by save() (or by engram::io::save_memory in C++); dtype "
          "defaults to the file's. OSError for a missing, truncated or corrupt file.")
#endif
      ;

  def_beta_energy<py_lse, lse_of>(
      m, "LSE",
      "E(x) = -(1/beta) log sum_mu exp(-beta/2 ||x - xi_mu||^2): the log-sum-exp energy; "
      "grad E = x - sum_mu p_mu xi_mu.");
  def_beta_energy<py_lse_dot, lse_dot_of>(
      m, "LSEDot",
      "E(x) = -(1/beta) log sum_mu exp(beta <xi_mu, x>) + ||x||^2 / 2: the dot-product "
      "log-sum-exp energy; grad E = x - sum_mu p_mu xi_mu.");
  def_beta_energy<py_linear_gaussian, linear_gaussian_energy>(
      m, "LinearGaussian",
      "E(x) = -(1/beta) sum_mu exp(-beta/2 ||x - xi_mu||^2): the Gaussian kernel with the "
      "linear scaling; grad E = sum_mu w_mu (x - xi_mu), w_mu = exp(-beta/2 ||x - xi_mu||^2).");
  def_beta_energy<py_linear_exp_dot, linear_exp_dot_energy>(
      m, "LinearExpDot",
      "E(x) = -(1/beta) sum_mu exp(beta <xi_mu, x>) + ||x||^2 / 2: the dot kernel with the "
      "linear scaling; where exp(beta <xi, x>) overflows the dtype, FloatingPointError.");

  auto normalized = nb::class_<py_normalized_lse>(
      m, "NormalizedLSE",
      "E(x) = -(1/beta) log sum_mu exp(beta <xi_mu, x/||x||>) + 1/2: LSE-dot on the unit "
      "sphere (DrDAM eq. 7).");
  normalized.def(
      "__init__",
      [](py_normalized_lse* self, const py_dense_memory& memory, double beta) {
        construct(self, memory, [&]<class T>(const dense_memory<T>& mem) {
          return std::make_unique<normalized_lse_energy<T>>(lse_dot_energy<T>(mem, T(beta)));
        });
      },
      nb::arg("memory"), nb::arg("beta"), nb::keep_alive<1, 2>(),
      "The energy over `memory` (kept alive, changes seen) at inverse temperature beta > 0; "
      "a zero state is refused (x / ||x|| is undefined there).");
  def_energy(m, normalized);

  auto lsr = nb::class_<py_lsr>(
      m, "LSR",
      "E(x) = -(1/beta) log(eps + sum_mu ReLU(1 - beta/2 ||x - xi_mu||^2)): the "
      "log-sum-ReLU (Epanechnikov) energy. With eps = 0 a state no pattern supports has "
      "energy +inf and gradient 0.");
  lsr.def(
      "__init__",
      [](py_lsr* self, const py_dense_memory& memory, double beta, double eps,
         const std::string& support) {
        const support_method method = method_of(support);
        construct(self, memory, [&]<class T>(const dense_memory<T>& mem) {
          return std::make_unique<lsr_energy<T>>(mem, T(beta), T(eps), method);
        });
      },
      nb::arg("memory"), nb::arg("beta"), nb::arg("eps") = 0.0, nb::arg("support") = "automatic",
      nb::keep_alive<1, 2>(),
      "support: how supports are searched, 'automatic', 'kd_tree' or 'brute_force' (the same "
      "supports and energies either way; only the time differs).");
  def_energy(m, lsr);
  def_beta(lsr);
  def_supports(lsr);

  auto hybrid = nb::class_<py_hybrid>(
      m, "Hybrid",
      "LSR (eps > 0) plus weight * ReLU(E_LSE(x; lse_beta) - 1/beta): LSR's exact minima, "
      "with the LSE gradient pulling states from outside every support.");
  hybrid.def(
      "__init__",
      [](py_hybrid* self, const py_dense_memory& memory, double beta, double eps, double lse_beta,
         double weight) {
        construct(self, memory, [&]<class T>(const dense_memory<T>& mem) {
          return std::make_unique<hybrid_energy<T>>(mem, T(beta), T(eps), T(lse_beta), T(weight));
        });
      },
      nb::arg("memory"), nb::arg("beta"), nb::arg("eps") = 1e-3, nb::arg("lse_beta") = 1.0,
      nb::arg("weight") = 1.0, nb::keep_alive<1, 2>(),
      "LSR at (beta, eps > 0) plus weight times the LSE excess at lse_beta, over `memory`.");
  def_energy(m, hybrid);
  def_beta(hybrid);
  def_supports(hybrid);

  auto power = nb::class_<py_power>(
      m, "Power",
      "E(x) = -sum_mu <xi_mu, x>^n (Krotov-Hopfield), or with rectified=True -sum_mu "
      "ReLU(<xi_mu, x>)^n; n = 2, 3 or 4.");
  power.def(
      "__init__",
      [](py_power* self, const py_dense_memory& memory, int n, bool rectified) {
        py_power made;
        auto set = [&]<class T>(const dense_memory<T>& mem) {
          rectified ? set_power<true>(made, mem, n) : set_power<false>(made, mem, n);
        };
        memory.is_double() ? set(memory.as<double>()) : set(memory.as<float>());
        made.lock = memory.lock;
        made.n = n;
        made.rectified = rectified;
        new (self) py_power(std::move(made));
      },
      nb::arg("memory"), nb::arg("n") = 2, nb::arg("rectified") = false, nb::keep_alive<1, 2>(),
      "The degree-n separation function over `memory` (kept alive); beta plays no part.");
  power.def_ro("n", &py_power::n, "the power n")
      .def_ro("rectified", &py_power::rectified, "whether <xi, x> passes through ReLU first");
  def_energy(m, power);

  m.def(
      "enumerate_lsr_minima",
      [](const py_lsr& b, double max_subsets, index batch, nb::object progress) {
        return b.visit([&](const auto& e) {
          using T = scalar_of<std::decay_t<decltype(e)>>;
          const enumeration_options o{
              .max_subsets = max_subsets, .batch = batch, .progress = progress_of(progress)};
          minima_census<T> census;
          {
            heavy_section section(b.lock);
            busy_section busy(b.lock);
            census = enumerate_lsr_minima(e, o);
          }
          return census_of<T>(std::move(census), 0);
        });
      },
      nb::arg("energy"), nb::kw_only(), nb::arg("max_subsets") = 1e7, nb::arg("batch") = 4096,
      nb::arg("progress").none() = nb::none(),
      "[LSR] Algorithm 3: every local minimum of an LSR energy, exactly. A centroid c of a set "
      "S of patterns is a minimum iff its support B(c) is S; refuses (ValueError, naming the "
      "count) when the candidate sets would exceed max_subsets.");
  def_descent_minima<py_lse>(m);
  def_descent_minima<py_lsr>(m);
}

}  // namespace engram::python
