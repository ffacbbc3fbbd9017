// The analysis functions that take arrays rather than energies: [LSR]'s beta search and
// Gaussian-mixture likelihoods, [DrDAM]'s binarised Hamming distance and its bounds; and the
// dataset and picture files of engram::io.
#include "common.hpp"

#ifdef ENGRAM_PYTHON_IO
#include <engram/io.hpp>
#endif

namespace engram::python {

namespace {

struct py_beta_search {
  double beta, radius, mean_interactions;
  int iterations;
};

struct py_mixture {
  std::variant<gaussian_mixture<float>, gaussian_mixture<double>> held;
  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit([&](const auto& g) -> decltype(auto) { return f(g); }, held);
  }
};

template <class T>
T scalar_of_mixture(const gaussian_mixture<T>&);

}  // namespace

void bind_analysis(nb::module_& m) {
  nb::class_<py_beta_search>(m, "BetaSearch", "What interaction_beta returns.")
      .def_ro("beta", &py_beta_search::beta, "2 / radius^2")
      .def_ro("radius", &py_beta_search::radius, "the basin radius r")
      .def_ro("mean_interactions", &py_beta_search::mean_interactions,
              "mean over patterns of the patterns within 2r")
      .def_ro("iterations", &py_beta_search::iterations, "bisection steps taken");

  m.def(
      "interaction_beta",
      [](nb::handle patterns, double target, bool count_self, int max_iterations) {
        const beta_search_options o{.max_iterations = max_iterations, .count_self = count_self};
        auto run = [&]<class T>(T*) {
          const auto p = batch_arg<T>(patterns, "patterns");
          nb::gil_scoped_release release;
          const auto r = interaction_beta(p.columns(), target, o);
          return py_beta_search{double(r.beta), double(r.radius), r.mean_interactions,
                                r.iterations};
        };
        return wants_double(patterns, "patterns", nb::none()) ? run((double*)nullptr)
                                                              : run((float*)nullptr);
      },
      nb::arg("patterns"), nb::arg("target"), nb::kw_only(), nb::arg("count_self") = true,
      nb::arg("max_iterations") = 100,
      "[LSR] Algorithm 2: the beta at which each pattern (rows of patterns) interacts with "
      "`target` patterns on average (within twice the support radius); like the paper, the "
      "count includes the pattern itself unless count_self=False.");

  m.def(
      "binarised_hamming",
      [](nb::handle a, nb::handle b) {
        const auto x = batch_arg<double>(a, "a");
        const auto y = batch_arg<double>(b, "b");
        require_finite("a", x.columns());
        require_finite("b", y.columns());
        return binarised_hamming(x.columns(), y.columns());
      },
      nb::arg("a"), nb::arg("b"),
      "[DrDAM] eq. 15: the share of coordinates on which a and b (B, D) fall on different "
      "sides of 1/(2 sqrt(D)).");

  m.def("drdam_gradient_bound", &drdam_gradient_bound, nb::arg("c1"), nb::arg("memories"),
        nb::arg("beta"), nb::arg("energy"), nb::arg("dim"), nb::arg("features"),
        "[DrDAM] Lemma 3: 2 C1 K e^{beta E} sqrt(D / Y), a bound on the error of the "
        "readout gradient at a state of energy E.");
  m.def("drdam_divergence_bound", &drdam_divergence_bound, nb::arg("eta"), nb::arg("steps"),
        nb::arg("c1"), nb::arg("memories"), nb::arg("beta"), nb::arg("energy"), nb::arg("dim"),
        nb::arg("features"),
        "[DrDAM] Theorem 2: a bound on ||x_L - x^_L|| after `steps` steps of size eta.");
  m.def("drdam_corollary_step", &drdam_corollary_step, nb::arg("c2"), nb::arg("steps"),
        nb::arg("memories"), nb::arg("beta"),
        "[DrDAM] Corollary 1's step eta = C2 / (L (1 + 2 K beta e^{beta/2})).");
  m.def("drdam_corollary_bound", &drdam_corollary_bound, nb::arg("c1"), nb::arg("c2"),
        nb::arg("beta"), nb::arg("energy"), nb::arg("dim"), nb::arg("features"),
        "[DrDAM] Corollary 1: C1 C2 e^{beta (E - 1/2)} / (beta (1 - C2)) sqrt(D / Y).");

  nb::class_<py_mixture>(m, "GaussianMixture",
                         "An equal-weight mixture of isotropic Gaussians N(mean_mu, sigma^2 I): "
                         "the known density of [LSR]'s likelihood experiment.")
      .def(
          "__init__",
          [](py_mixture* self, nb::handle means, double sigma) {
            auto make = [&]<class T>(T*) -> decltype(py_mixture::held) {
              const auto v = batch_arg<T>(means, "means");
              return gaussian_mixture<T>(v.columns(), T(sigma));
            };
            auto held = wants_double(means, "means", nb::none()) ? make((double*)nullptr)
                                                                 : make((float*)nullptr);
            new (self) py_mixture{std::move(held)};
          },
          nb::arg("means"), nb::arg("sigma"), "means: (K, D), one component mean per row.")
      .def(
          "log_density",
          [](const py_mixture& self, nb::handle x) {
            return self.visit([&](const auto& g) -> nb::object {
              using T = decltype(scalar_of_mixture(g));
              const auto v = batch_arg<T>(x, "x");
              return nb::cast(array_of<T>(g.log_density(v.columns())));
            });
          },
          nb::arg("x"), "log p(x) of each row of x (B, D).")
      .def(
          "sample",
          [](const py_mixture& self, index n, std::uint64_t seed) {
            return self.visit([&](const auto& g) -> nb::object {
              using T = decltype(scalar_of_mixture(g));
              return nb::cast(rows_of<T>(g.sample(n, seed)));
            });
          },
          nb::arg("n"), nb::arg("seed"), "n samples (n, D), from the Philox streams of seed.");
}

namespace {

/// A numpy array of `shape` (an int or a tuple) whose C-order entry k is entry k of the stream:
/// rows of a (K, D) array are the columns of the D x K matrix philox_source fills in C++.
template <class T, class Fill>
nb::object counter_array(nb::handle shape, Fill&& fill) {
  std::vector<std::size_t> dims;
  auto size = [](nb::handle d) {
    long long v = 0;
    if (!nb::try_cast(d, v) || v < 0)
      throw nb::value_error(
          ("shape has the entry " + std::string(nb::repr(d).c_str()) + "; each must be an int >= 0")
              .c_str());
    return std::size_t(v);
  };
  if (nb::isinstance<nb::int_>(shape)) {
    dims.push_back(size(shape));
  } else {
    for (nb::handle d : shape) dims.push_back(size(d));
  }
  std::size_t n = 1;
  for (std::size_t d : dims)
    if (__builtin_mul_overflow(n, d, &n) || n > (std::size_t(1) << 40))
      throw nb::value_error("shape asks for more than 2^40 numbers");
  auto* owned = new vector<T>(index(n));
  nb::capsule free(owned, [](void* p) noexcept { delete static_cast<vector<T>*>(p); });
  {
    nb::gil_scoped_release release;
    fill(*owned);
  }
  return nb::cast(array_out<T>(owned->data(), dims.size(), dims.data(), free));
}

}  // namespace

void bind_random(nb::module_& m) {
  nb::class_<philox_source>(m, "Philox",
                            "engram's counter-based random numbers (Philox 4x32, Random123): "
                            "entry k of stream s of a seed is the same number in every program "
                            "and on every machine, so Python reproduces a C++ run's draws.")
      .def(nb::init<std::uint64_t>(), nb::arg("seed"),
           "The streams of `seed` (the seed of a C++ philox_source).")
      .def(
          "uniform",
          [](const philox_source& rng, nb::handle shape, std::uint64_t stream, double lo, double hi,
             nb::handle dtype, std::uint64_t offset) {
            if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi))
              throw nb::value_error(("uniform range (" + std::to_string(lo) + ", " +
                                     std::to_string(hi) + "] is empty or infinite")
                                        .c_str());
            auto draw = [&]<class T>(T*) {
              return counter_array<T>(
                  shape, [&](vector<T>& v) { rng.fill_uniform(v, stream, T(lo), T(hi), offset); });
            };
            return wants_double(nb::none(), "dtype", dtype) ? draw((double*)nullptr)
                                                            : draw((float*)nullptr);
          },
          nb::arg("shape"), nb::arg("stream"), nb::arg("lo") = 0.0, nb::arg("hi") = 1.0,
          nb::arg("dtype") = "float64", nb::arg("offset") = 0,
          "Uniform numbers in (lo, hi]: entry k (C order) is entry offset + k of the stream, as "
          "philox_source::fill_uniform fills a matrix column by column.")
      .def(
          "normal",
          [](const philox_source& rng, nb::handle shape, std::uint64_t stream, nb::handle dtype,
             std::uint64_t offset) {
            auto draw = [&]<class T>(T*) {
              return counter_array<T>(shape,
                                      [&](vector<T>& v) { rng.fill_normal(v, stream, offset); });
            };
            return wants_double(nb::none(), "dtype", dtype) ? draw((double*)nullptr)
                                                            : draw((float*)nullptr);
          },
          nb::arg("shape"), nb::arg("stream"), nb::arg("dtype") = "float64", nb::arg("offset") = 0,
          "Standard normals (Box-Muller on the stream's blocks), entry k as fill_normal's.");
}

#ifdef ENGRAM_PYTHON_IO
void bind_io(nb::module_& m) {
  m.def(
      "read_idx_images",
      [](const std::string& path, index max_items, nb::handle dtype) {
        const bool dbl = !dtype.is_none() && wants_double(nb::none(), "dtype", dtype);
        auto read = [&]<class T>(T*) {
          matrix<T> images;
          {
            nb::gil_scoped_release release;
            images = io::read_idx_images<T>(path, max_items);
          }
          return nb::cast(rows_of<T>(std::move(images)));
        };
        return dbl ? read((double*)nullptr) : read((float*)nullptr);
      },
      nb::arg("path"), nb::arg("max_items") = -1, nb::arg("dtype").none() = nb::none(),
      "The images of an unsigned-byte IDX file (MNIST, Fashion-MNIST; gzip or not) scaled to "
      "[0, 1], one per row in row-major pixel order: (N, rows * cols), float32 unless dtype "
      "says float64. OSError for a missing or malformed file.");
  m.def(
      "read_idx_labels",
      [](const std::string& path, index max_items) {
        Eigen::VectorXi labels;
        {
          nb::gil_scoped_release release;
          labels = io::read_idx_labels(path, max_items);
        }
        return array_of<std::int32_t>(std::move(labels));
      },
      nb::arg("path"), nb::arg("max_items") = -1,
      "The labels of a rank-1 unsigned-byte IDX file, int32 (N,).");
  m.def(
      "write_png_grid",
      [](const std::string& path, nb::handle images, index height, index width, index columns,
         index padding, index zoom, double lo, double hi) {
        const io::image_grid grid{.height = height,
                                  .width = width,
                                  .columns = columns,
                                  .padding = padding,
                                  .zoom = zoom,
                                  .lo = lo,
                                  .hi = hi};
        // In the images' own scalar type, so that a float32 grid maps to the bytes the same
        // float matrix gives in C++.
        auto write = [&]<class T>(T*) {
          const auto v = batch_arg<T>(images, "images", height * width);
          require_finite("images", v.columns());
          nb::gil_scoped_release release;
          io::write_png_grid(path, v.columns(), grid);
        };
        wants_double(images, "images", nb::none()) ? write((double*)nullptr)
                                                   : write((float*)nullptr);
      },
      nb::arg("path"), nb::arg("images"), nb::kw_only(), nb::arg("height") = 28,
      nb::arg("width") = 28, nb::arg("columns") = 0, nb::arg("padding") = 2, nb::arg("zoom") = 1,
      nb::arg("lo") = 0.0, nb::arg("hi") = 1.0,
      "Writes the rows of images (N, height * width) as one PNG grid, `columns` images a row "
      "(0: all in one), values from lo (black) to hi (white).");
}
#else
void bind_io(nb::module_&) {}
#endif

}  // namespace engram::python
