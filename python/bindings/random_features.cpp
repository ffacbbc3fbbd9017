// Random features, the distributed (random-feature) memories over them and the DrDAM energy.
#include "energy_box.hpp"

#ifdef ENGRAM_PYTHON_IO
#include <engram/io.hpp>
#endif

#include <sstream>

namespace engram::python {

namespace {

template <class M, class T>
using features_of = random_features<M, T>;
template <class M, class T>
using memory_of = distributed_memory<M, T>;
template <class M, class T>
using drdam_of = drdam_energy<M, T>;

/// One of the four maps in float or double.
template <template <class, class> class Of>
struct per_map {
  std::variant<
      std::unique_ptr<Of<cos_features, float>>, std::unique_ptr<Of<sincos_features, float>>,
      std::unique_ptr<Of<exp_features, float>>, std::unique_ptr<Of<exp_exp_features, float>>,
      std::unique_ptr<Of<cos_features, double>>, std::unique_ptr<Of<sincos_features, double>>,
      std::unique_ptr<Of<exp_features, double>>, std::unique_ptr<Of<exp_exp_features, double>>>
      held;

  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit([&](const auto& p) -> decltype(auto) { return f(*p); }, held);
  }
};

struct py_features : per_map<features_of> {};

struct py_distributed_memory : per_map<memory_of> {
  shared_lock lock = make_guard();
};

struct py_drdam : energy_box<drdam_of<cos_features, float>, drdam_of<sincos_features, float>,
                             drdam_of<exp_features, float>, drdam_of<exp_exp_features, float>,
                             drdam_of<cos_features, double>, drdam_of<sincos_features, double>,
                             drdam_of<exp_features, double>, drdam_of<exp_exp_features, double>> {};

/// Calls f with a null pointer of the map formula named `name`.
template <class F>
decltype(auto) with_map(const std::string& name, F&& f) {
  if (name == "cos") return f((cos_features*)nullptr);
  if (name == "sincos") return f((sincos_features*)nullptr);
  if (name == "exp") return f((exp_features*)nullptr);
  if (name == "exp_exp") return f((exp_exp_features*)nullptr);
  throw nb::value_error(
      ("map is '" + name + "'; it must be 'cos', 'sincos', 'exp' or 'exp_exp'").c_str());
}

omega_storage storage_of(const std::string& name) {
  if (name == "materialised" || name == "materialized") return omega_storage::materialised;
  if (name == "on_demand") return omega_storage::on_demand;
  throw nb::value_error(
      ("storage is '" + name + "'; it must be 'materialised' or 'on_demand'").c_str());
}

template <class Map>
using map_of = typename Map::map_type;

}  // namespace

void bind_random_features(nb::module_& m) {
  nb::class_<py_features>(
      m, "RandomFeatures",
      "A random feature map of the Gaussian kernel exp(-beta/2 ||x - x'||^2): phi(x) with "
      "E <phi(x), phi(x')> = k(x, x'), over Y directions omega drawn from a seed (or given).")
      .def(
          "__init__",
          [](py_features* self, index dim, index count, double beta, std::uint64_t seed,
             const std::string& map, bool orthogonal, const std::string& storage,
             nb::handle dtype) {
            const bool dbl = dtype.is_none() ? false : wants_double(nb::none(), "dtype", dtype);
            const feature_options options{.orthogonal = orthogonal, .storage = storage_of(storage)};
            decltype(py_features::held) held;
            with_map(map, [&]<class M>(M*) {
              // Drawing a stored omega (Y x D normals) takes a while for large maps.
              nb::gil_scoped_release release;
              if (dbl)
                held = std::make_unique<features_of<M, double>>(dim, count, beta, seed, options);
              else
                held =
                    std::make_unique<features_of<M, float>>(dim, count, float(beta), seed, options);
            });
            new (self) py_features();
            self->held = std::move(held);
          },
          nb::arg("dim"), nb::arg("count"), nb::arg("beta"), nb::arg("seed"),
          nb::arg("map") = "sincos", nb::arg("orthogonal") = false,
          nb::arg("storage") = "materialised", nb::arg("dtype").none() = nb::none(),
          "Y = count directions in D = dim drawn from the Philox streams of `seed`. map: 'cos' "
          "(F = Y), 'sincos' (F = 2Y), 'exp' (F = Y, positive), 'exp_exp' (F = 2Y). storage: "
          "'materialised' (Y x D stored) or 'on_demand' (regenerated tile by tile, the same "
          "numbers). dtype: float32 (default) or float64; one seed gives the same directions in "
          "both.")
      .def_static(
          "from_omega",
          [](nb::handle omega, double beta, nb::handle bias, const std::string& map) {
            if (!bias.is_none() && map != "cos")
              throw nb::value_error(("bias is given for the " + map +
                                     " map, which has no phases; only the cos map uses them")
                                        .c_str());
            const bool dbl = wants_double(omega, "omega", nb::none());
            auto made = with_map(map, [&]<class M>(M*) {
              auto build = [&]<class T>(T*) -> decltype(py_features::held) {
                const auto w = batch_arg<T>(omega, "omega");
                vector<T> b;
                if (!bias.is_none()) b = vector_arg<T>(bias, "bias", w.batch).columns();
                // omega's rows are directions: (Y, D) C-contiguous is D x Y column-major, the
                // transpose of the Y x D matrix gaussian_projection takes.
                const matrix<T> rows = w.columns().transpose();
                return std::make_unique<features_of<M, T>>(gaussian_projection<T>(rows, b),
                                                           T(beta));
              };
              return dbl ? build((double*)nullptr) : build((float*)nullptr);
            });
            py_features f;
            f.held = std::move(made);
            return f;
          },
          nb::arg("omega"), nb::arg("beta"), nb::arg("bias").none() = nb::none(),
          nb::arg("map") = "cos",
          "The map over a projection from elsewhere: omega (Y, D), one direction per row, and "
          "for the cos map the Y phases `bias` (zeros when None). The features are then h = "
          "<omega_a, sqrt(beta) x> (+ bias_a) through the map's formula, exactly; the dtype "
          "follows omega's (float32 stays float32).")
      .def(
          "features",
          [](const py_features& self, nb::handle x) {
            return self.visit([&](const auto& phi) -> nb::object {
              using T = scalar_of<std::decay_t<decltype(phi)>>;
              const auto v = batch_arg<T>(x, "x", phi.dim());
              matrix<T> out;
              {
                nb::gil_scoped_release release;
                out = phi.features(v.columns());
              }
              return nb::cast(rows_of<T>(std::move(out)));
            });
          },
          nb::arg("x"), "phi of each row of x (B, D): an array (B, F).")
      .def(
          "jacobian_transpose",
          [](const py_features& self, nb::handle x, nb::handle w) {
            return self.visit([&](const auto& phi) -> nb::object {
              using T = scalar_of<std::decay_t<decltype(phi)>>;
              const auto v = batch_arg<T>(x, "x", phi.dim());
              const auto ws = batch_arg<T>(w, "w", phi.size());
              if (ws.batch != v.batch)
                throw nb::value_error(("w has " + std::to_string(ws.batch) + " rows and x has " +
                                       std::to_string(v.batch) + "; they must agree")
                                          .c_str());
              matrix<T> out;
              {
                nb::gil_scoped_release release;
                out = phi.jacobian_transpose(v.columns(), ws.columns());
              }
              return nb::cast(rows_of<T>(std::move(out)));
            });
          },
          nb::arg("x"), nb::arg("w"),
          "J_phi(x_b)^T w_b for each row b of x (B, D) and w (B, F): an array (B, D).")
      .def_prop_ro(
          "omega",
          [](const py_features& self) {
            return self.visit([](const auto& phi) -> nb::object {
              using T = scalar_of<std::decay_t<decltype(phi)>>;
              matrix<T> rows = phi.omega().transpose();  // D x Y: (Y, D) rows
              return nb::cast(rows_of<T>(std::move(rows)));
            });
          },
          "The Y directions, (Y, D) (drawn from the seed when stored on demand).")
      .def_prop_ro(
          "bias",
          [](const py_features& self) {
            return self.visit([](const auto& phi) -> nb::object {
              using T = scalar_of<std::decay_t<decltype(phi)>>;
              return nb::cast(array_of<T>(vector<T>(phi.bias())));
            });
          },
          "The Y phases of the cos map, (Y,).")
      .def_prop_ro(
          "dim",
          [](const py_features& s) { return s.visit([](const auto& p) { return p.dim(); }); }, "D")
      .def_prop_ro(
          "count",
          [](const py_features& s) { return s.visit([](const auto& p) { return p.count(); }); },
          "Y, the number of directions")
      .def_prop_ro(
          "size",
          [](const py_features& s) { return s.visit([](const auto& p) { return p.size(); }); },
          "F, the length of phi(x)")
      .def_prop_ro(
          "beta",
          [](const py_features& s) {
            return s.visit([](const auto& p) { return double(p.beta()); });
          },
          "the inverse temperature of the kernel")
      .def_prop_ro(
          "map",
          [](const py_features& s) {
            return s.visit([](const auto& p) -> std::string {
              return map_of<std::decay_t<decltype(p)>>::name;
            });
          },
          "the formula: 'cos', 'sincos', 'exp' or 'exp_exp'")
      .def_prop_ro(
          "dtype",
          [](const py_features& s) {
            return s.visit([](const auto& p) -> std::string {
              return dtype_name<scalar_of<std::decay_t<decltype(p)>>>();
            });
          },
          "'float32' or 'float64'");

  nb::class_<py_distributed_memory>(
      m, "DistributedMemory",
      "DrDAM's memory tensor T = sum_mu phi(xi_mu): F numbers whatever the number of patterns. "
      "With keep_readout=True it also keeps R = sum_mu phi(xi_mu) xi_mu^T (F x D) for "
      "DrDAM.readout_gradient.")
      .def(
          "__init__",
          [](py_distributed_memory* self, const py_features& features, nb::handle patterns,
             bool keep_readout, nb::object progress) {
            const readout keep = keep_readout ? readout::keep : readout::none;
            auto held =
                features.visit([&](const auto& phi) -> decltype(py_distributed_memory::held) {
                  using P = std::decay_t<decltype(phi)>;
                  using T = scalar_of<P>;
                  using M = map_of<P>;
                  auto memory = std::make_unique<memory_of<M, T>>(phi, keep);
                  if (!patterns.is_none()) {
                    const auto v = batch_arg<T>(patterns, "patterns", phi.dim());
                    const progress_callback report = progress_of(progress);
                    nb::gil_scoped_release release;
                    memory->add(v.columns(), report);
                  }
                  return memory;
                });
            new (self) py_distributed_memory();
            self->held = std::move(held);
          },
          nb::arg("features"), nb::arg("patterns").none() = nb::none(), nb::kw_only(),
          nb::arg("keep_readout") = false, nb::arg("progress").none() = nb::none(),
          "A memory over a copy of `features`, holding the rows of patterns (K, D) when given; "
          "progress (a callable) hears of the encoding as WorkProgress(done, total).")
      .def(
          "add",
          [](py_distributed_memory& self, nb::handle patterns, nb::object progress) {
            self.visit([&](auto& memory) {
              using T = scalar_of<std::decay_t<decltype(memory)>>;
              const auto v = batch_arg<T>(patterns, "patterns", memory.dim());
              const progress_callback report = progress_of(progress);
              heavy_section section(self.lock);
              refuse_if_busy(self.lock, "DistributedMemory.add");
              busy_section busy(self.lock);
              memory.add(v.columns(), report);
            });
          },
          nb::arg("patterns"), nb::arg("progress").none() = nb::none(),
          "T += sum of phi over the rows of patterns (n, D): O(n D Y).")
      .def(
          "remove",
          [](py_distributed_memory& self, nb::handle patterns) {
            self.visit([&](auto& memory) {
              using T = scalar_of<std::decay_t<decltype(memory)>>;
              const auto v = batch_arg<T>(patterns, "patterns", memory.dim());
              heavy_section section(self.lock);
              refuse_if_busy(self.lock, "DistributedMemory.remove");
              memory.remove(v.columns());
            });
          },
          nb::arg("patterns"),
          "T -= sum of phi over the rows of patterns: the memory cannot tell whether they were "
          "ever added; it refuses only to hold fewer than zero patterns.")
      .def(
          "__len__",
          [](const py_distributed_memory& s) {
            return s.visit([](const auto& p) { return p.size(); });
          },
          "patterns stored (added minus removed)")
      .def_prop_ro(
          "size",
          [](const py_distributed_memory& s) {
            return s.visit([](const auto& p) { return p.size(); });
          },
          "patterns stored (added minus removed)")
      .def_prop_ro(
          "dim",
          [](const py_distributed_memory& s) {
            return s.visit([](const auto& p) { return p.dim(); });
          },
          "D")
      .def_prop_ro(
          "tensor",
          [](const py_distributed_memory& s) {
            return s.visit([&](const auto& p) -> nb::object {
              using T = scalar_of<std::decay_t<decltype(p)>>;
              vector<T> copy;
              {
                heavy_section section(s.lock);
                copy = p.memory_tensor();
              }
              return nb::cast(array_of<T>(std::move(copy)));
            });
          },
          "A copy of T, (F,).")
      .def_prop_ro(
          "readout",
          [](const py_distributed_memory& s) {
            return s.visit([&](const auto& p) -> nb::object {
              using T = scalar_of<std::decay_t<decltype(p)>>;
              if (!p.has_readout()) return nb::none();
              matrix<T> copy;
              {
                heavy_section section(s.lock);
                copy = p.readout_tensor().transpose();  // D x F: (F, D) rows
              }
              return nb::cast(rows_of<T>(std::move(copy)));
            });
          },
          "A copy of R, (F, D), or None when the memory does not keep it.")
      .def_prop_ro(
          "features",
          [](const py_distributed_memory& s) {
            return s.visit([](const auto& p) {
              using P = std::decay_t<decltype(p.features())>;
              py_features f;
              f.held = std::make_unique<P>(p.features());
              return f;
            });
          },
          "A copy of the feature map.")
#ifdef ENGRAM_PYTHON_IO
      .def(
          "save",
          [](const py_distributed_memory& self, const std::string& path) {
            self.visit([&](const auto& mem) {
              heavy_section section(self.lock);
              io::save_memory(path, mem);
            });
          },
          nb::arg("path"),
          "Writes the memory (its feature map's recipe, T, the count and R when kept) to a "
          "file, written aside and renamed. OSError when it cannot.")
      .def_static(
          "load",
          [](const std::string& path, nb::handle dtype) {
            const auto header = io::read_memory_file_header(path);
            if (header.object != io::memory_object::distributed)
              throw nb::value_error(
                  ("'" + path + "' holds a dense memory; use DenseMemory.load").c_str());
            const bool dbl = dtype.is_none() ? header.scalar_bytes == 8
                                             : wants_double(nb::none(), "dtype", dtype);
            if (header.scalar_bytes == 8 && !dbl)
              throw nb::type_error(("'" + path +
                                    "' holds float64 numbers; loading them as float32 would "
                                    "round them (omit dtype to load float64)")
                                       .c_str());
            py_distributed_memory out;
            with_map(header.feature_map, [&]<class M>(M*) {
              nb::gil_scoped_release release;
              if (dbl)
                out.held = std::make_unique<memory_of<M, double>>(
                    io::load_memory<memory_of<M, double>>(path));
              else
                out.held = std::make_unique<memory_of<M, float>>(
                    io::load_memory<memory_of<M, float>>(path));
            });
            return out;
          },
          nb::arg("path"), nb::arg("dtype").none() = nb::none(),
          "Reads a memory saved by save() (or engram::io::save_memory): the feature map is "
          "rebuilt from its recipe, bitwise equal. OSError for a missing, truncated or corrupt "
          "file.")
#endif
      .def_prop_ro(
          "dtype",
          [](const py_distributed_memory& s) {
            return s.visit([](const auto& p) -> std::string {
              return dtype_name<scalar_of<std::decay_t<decltype(p)>>>();
            });
          },
          "'float32' or 'float64'");

  auto drdam = nb::class_<py_drdam>(
      m, "DrDAM",
      "E(x) = -(1/beta) log(max(<T, phi(x)>, eps)): the random-feature estimate of the LSE "
      "energy ([DrDAM]), with the gradient of its eq. 10.");
  drdam.def(
      "__init__",
      [](py_drdam* self, const py_distributed_memory& memory, double eps) {
        auto held = memory.visit([&](const auto& mem) -> decltype(py_drdam::energy) {
          using P = std::decay_t<decltype(mem)>;
          using T = scalar_of<P>;
          return std::make_unique<drdam_of<typename P::features_type::map_type, T>>(mem, T(eps));
        });
        new (self) py_drdam();
        self->energy = std::move(held);
        self->lock = memory.lock;
      },
      nb::arg("memory"), nb::arg("eps") = 1e-5, nb::keep_alive<1, 2>(),
      "The energy over the distributed `memory` (kept alive, changes seen); eps > 0 clips "
      "<T, phi(x)> from below.");
  def_energy(m, drdam);
  drdam
      .def_prop_ro(
          "beta",
          [](const py_drdam& b) { return b.visit([](const auto& e) { return double(e.beta()); }); },
          "the inverse temperature of the feature map")
      .def(
          "readout_gradient",
          [](const py_drdam& b, nb::handle x) {
            return b.visit([&](const auto& e) -> nb::object {
              using T = scalar_of<std::decay_t<decltype(e)>>;
              const auto v = batch_arg<T>(x, "x", e.dim());
              matrix<T> g;
              {
                heavy_section section(b.lock);
                g = e.readout_gradient(v.columns());
              }
              return nb::cast(rows_of<T>(std::move(g)));
            });
          },
          nb::arg("x"),
          "[DrDAM] eq. 32: x - R^T phi(x) / <T, phi(x)>, the estimate of the LSE gradient "
          "from the readout tensor (the memory must keep it).");

  m.def(
      "kernel_error_constant",
      [](const py_features& features, nb::handle x, nb::handle y) {
        return features.visit([&](const auto& phi) {
          using T = scalar_of<std::decay_t<decltype(phi)>>;
          const auto a = batch_arg<T>(x, "x", phi.dim());
          const auto b = batch_arg<T>(y, "y", phi.dim());
          nb::gil_scoped_release release;
          return kernel_error_constant(phi, a.columns(), b.columns());
        });
      },
      nb::arg("features"), nb::arg("x"), nb::arg("y"),
      "C1 of [DrDAM] assumption A2 measured on data: max over rows of x and y of "
      "|k(x, y) - <phi(x), phi(y)>| * sqrt(Y / D).");
}

}  // namespace engram::python
