// Learned energies (seed 000: Hopfield responses, two-timescale Hebbian learning) and matrix
// factorisation by decimation (seed 004), in float64 as the science code uses them.
#include "common.hpp"

namespace engram::python {

namespace {

using response = hopfield_response<double>;

/// A square (N, N) array as the N x N matrix numpy means (row i of the array is row i).
matrix<double> square_arg(nb::handle object, const char* name) {
  const auto v = batch_arg<double>(object, name);
  if (v.batch != v.dim)
    throw nb::value_error((std::string(name) + " is (" + std::to_string(v.batch) + ", " +
                           std::to_string(v.dim) + "); it must be square")
                              .c_str());
  return v.columns().transpose();
}

/// An (N, N) matrix as numpy's (N, N) array (row i of the result is row i).
nb::object square_out(const matrix<double>& m) {
  return nb::cast(rows_of<double>(matrix<double>(m.transpose())));
}

/// A network and its lock: learn() changes it with the GIL released.
struct py_response {
  response net;
  shared_lock lock = make_guard();
};

struct py_epoch {
  index epoch;
  double d_ipr, capacity, loss, constraint_residual, smallest_eigenvalue;
  nb::object covariance;
};

struct py_decimation {
  nb::object patterns;
  std::vector<decimation_step> steps;
};

struct py_spiked {
  nb::object patterns, y;
  double delta, rho;
};

}  // namespace

void bind_learning(nb::module_& m) {
  nb::class_<py_response>(m, "HopfieldResponse",
                          "Seed 000's linear response network: E(y; x) = -2 <x, y> - y^T W y + "
                          "sum_i c_i y_i^2, relaxing to y = (diag c - W)^{-1} x. States and "
                          "inputs are (B, N), one row per sample.")
      .def(
          "__init__",
          [](py_response* self, nb::handle coupling, nb::handle leak) {
            matrix<double> w = square_arg(coupling, "coupling");
            vector<double> c = vector_arg<double>(leak, "leak", w.rows()).columns();
            response net(std::move(w), std::move(c));
            new (self) py_response{std::move(net)};
          },
          nb::arg("coupling"), nb::arg("leak"), "W (N, N) symmetric and c (N,).")
      .def_static(
          "initial", [](index n, double c0) { return py_response{response::initial(n, c0)}; },
          nb::arg("n"), nb::arg("c0"), "W = 0, c = c0: where learning starts.")
      .def_prop_ro(
          "dim", [](const py_response& r) { return r.net.dim(); }, "N")
      .def_prop_ro(
          "coupling",
          [](const py_response& r) {
            matrix<double> w;
            {
              heavy_section section(r.lock);
              w = r.net.coupling();
            }
            return square_out(w);
          },
          "W (N, N)")
      .def_prop_ro(
          "leak",
          [](const py_response& r) {
            vector<double> c;
            {
              heavy_section section(r.lock);
              c = r.net.leak();
            }
            return nb::cast(array_of<double>(std::move(c)));
          },
          "c (N,)")
      .def(
          "energy",
          [](const py_response& r, nb::handle y, nb::handle x) {
            const auto ys = batch_arg<double>(y, "y", r.net.dim());
            vector<double> e;
            if (x.is_none()) {
              heavy_section section(r.lock);
              e = r.net.energy(ys.columns());
            } else {
              const auto xs = batch_arg<double>(x, "x", r.net.dim());
              heavy_section section(r.lock);
              e = r.net.energy(ys.columns(), xs.columns());
            }
            return nb::cast(array_of<double>(std::move(e)));
          },
          nb::arg("y"), nb::arg("x").none() = nb::none(),
          "E(y; x) of each row, or with x None the learned energy y^T (diag c - W) y.")
      .def(
          "gradient",
          [](const py_response& r, nb::handle y, nb::handle x) {
            const auto ys = batch_arg<double>(y, "y", r.net.dim());
            const auto xs = batch_arg<double>(x, "x", r.net.dim());
            matrix<double> g;
            {
              heavy_section section(r.lock);
              g = r.net.gradient(ys.columns(), xs.columns());
            }
            return rows_of<double>(std::move(g));
          },
          nb::arg("y"), nb::arg("x"), "grad_y E(y; x) of each row: (B, N).")
      .def(
          "steady_state",
          [](const py_response& r, nb::handle x) {
            const auto xs = batch_arg<double>(x, "x", r.net.dim());
            matrix<double> y;
            {
              heavy_section section(r.lock);
              y = r.net.steady_state(xs.columns());
            }
            return rows_of<double>(std::move(y));
          },
          nb::arg("x"),
          "(diag c - W)^{-1} x for each row; ValueError unless diag c - W is positive definite.");

  nb::class_<py_epoch>(m, "LearningEpoch", "One epoch of learn()'s history.")
      .def_ro("epoch", &py_epoch::epoch, "1-based")
      .def_ro("d_ipr", &py_epoch::d_ipr, "Tr C^2 / (Tr C)^2")
      .def_ro("capacity", &py_epoch::capacity, "Tr C^2")
      .def_ro("loss", &py_epoch::loss, "<||x - y||^2> - N^2/2 D_IPR")
      .def_ro("constraint_residual", &py_epoch::constraint_residual, "max_i |<y_i^2> - 1|")
      .def_ro("smallest_eigenvalue", &py_epoch::smallest_eigenvalue, "of diag c - W")
      .def_ro("covariance", &py_epoch::covariance, "C = <y y^T> (N, N)");

  m.def(
      "learn",
      [](py_response& self, nb::handle x, double eta_w, double eta_c, index batch, index epochs,
         std::uint64_t seed, bool shuffle, nb::object on_epoch) {
        const matrix<double> xs = batch_arg<double>(x, "x", self.net.dim()).columns();
        const hebbian_params params{.eta_w = eta_w,
                                    .eta_c = eta_c,
                                    .batch = batch,
                                    .epochs = epochs,
                                    .seed = seed,
                                    .shuffle = shuffle};
        auto report = [&](const learning_epoch<double>& e) -> bool {
          if (on_epoch.is_none()) return true;
          nb::gil_scoped_acquire gil;
          py_epoch p{e.epoch,
                     e.metrics.d_ipr,
                     e.metrics.capacity,
                     e.metrics.loss,
                     e.metrics.constraint_residual,
                     e.metrics.smallest_eigenvalue,
                     square_out(e.metrics.covariance)};
          const nb::object keep = on_epoch(p);
          if (keep.is_none()) return true;
          const int truth = PyObject_IsTrue(keep.ptr());
          if (truth < 0) throw nb::python_error();  // a value without a truth value
          return truth == 1;
        };
        std::vector<learning_epoch<double>> history;
        {
          heavy_section section(self.lock);
          refuse_if_busy(self.lock, "learn");
          busy_section busy(self.lock);
          history = learn(self.net, xs, params, closed_form, report);
        }
        nb::list out;
        for (const auto& e : history)
          out.append(py_epoch{e.epoch, e.metrics.d_ipr, e.metrics.capacity, e.metrics.loss,
                              e.metrics.constraint_residual, e.metrics.smallest_eigenvalue,
                              square_out(e.metrics.covariance)});
        return out;
      },
      nb::arg("net"), nb::arg("x"), nb::kw_only(), nb::arg("eta_w") = 0.005, nb::arg("eta_c") = 0.1,
      nb::arg("batch") = 1, nb::arg("epochs") = 10, nb::arg("seed") = 0, nb::arg("shuffle") = true,
      nb::arg("on_epoch").none() = nb::none(),
      "Seed 000's two-timescale Hebbian learning of net (in place) from observations x (P, N), "
      "relaxing responses in closed form: W <- W + eta_w (<y y^T> - W), c <- c + eta_c (<y o y> "
      "- 1) per minibatch of `batch` rows. on_epoch(LearningEpoch) after each epoch; returning "
      "False stops. Returns the history. On failure (an indefinite diag c - W) the net is put "
      "back where the failing epoch began and ValueError is raised.");

  m.def(
      "line_observations",
      [](nb::handle direction, index count, double spread, double noise, std::uint64_t seed) {
        const vector<double> u = vector_arg<double>(direction, "direction").columns();
        return rows_of<double>(line_observations<double>(u, count, spread, noise, seed));
      },
      nb::arg("direction"), nb::arg("count"), nb::arg("spread"), nb::arg("noise"), nb::arg("seed"),
      "x = s spread u / ||u|| + noise z, s ~ N(0, 1), z ~ N(0, I): (count, N) observations near "
      "a line, seed 000's data.");

  nb::class_<py_spiked>(m, "SpikedProblem", "What spiked_matrix returns.")
      .def_ro("patterns", &py_spiked::patterns, "xi (P, N), one pattern per row")
      .def_ro("y", &py_spiked::y, "Y = xi^T xi / sqrt(N) + sqrt(Delta) Z (N, N)")
      .def_ro("delta", &py_spiked::delta, "Delta, the noise variance")
      .def_ro("rho", &py_spiked::rho, "the prior's density");
  m.def(
      "spiked_matrix",
      [](index n, double alpha, double delta, double rho, std::uint64_t seed) {
        auto p = spiked_matrix<double>(n, alpha, delta, rho, seed);
        return py_spiked{nb::cast(rows_of<double>(std::move(p.patterns))), square_out(p.y), p.delta,
                         p.rho};
      },
      nb::arg("n"), nb::arg("alpha"), nb::arg("delta"), nb::arg("rho"), nb::arg("seed"),
      "Seed 004's problem: P = alpha N patterns of the (sparse) Rademacher prior of density rho "
      "and their noisy Hebbian matrix.");

  nb::class_<decimation_step>(m, "DecimationStep", "What one decimation step found.")
      .def_ro("step", &decimation_step::step, "R + 1, 1-based")
      .def_ro("energy", &decimation_step::energy, "E(eta | Y_R) of the kept attempt")
      .def_ro("level", &decimation_step::level, "the true-pattern level E_true at this step")
      .def_ro("attempts", &decimation_step::attempts, "annealing attempts made")
      .def_ro("spread", &decimation_step::spread, "sigma, the level's standard deviation")
      .def_ro("accepted", &decimation_step::accepted,
              "the kept attempt reached level + tolerance sigma");
  nb::class_<py_decimation>(m, "DecimationResult", "What decimate returns.")
      .def_ro("patterns", &py_decimation::patterns, "the patterns found (count, N), in order")
      .def_ro("steps", &py_decimation::steps, "a DecimationStep per pattern found");
  m.def(
      "decimate",
      [](nb::handle y, index count, double delta, double rho, double cooling, index sweeps,
         index finish, index attempts, double tolerance, std::uint64_t seed, nb::object on_step) {
        const matrix<double> ys = square_arg(y, "y");
        const decimation_params params{.rho = rho,
                                       .cooling = cooling,
                                       .sweeps = sweeps,
                                       .finish = finish,
                                       .attempts = attempts,
                                       .tolerance = tolerance,
                                       .seed = seed};
        decimation_result<double> r;
        {
          nb::gil_scoped_release release;
          r = decimate(ys, count, delta, params, [&](const decimation_step& s) {
            if (on_step.is_none()) return;
            nb::gil_scoped_acquire gil;
            on_step(s);
          });
        }
        return py_decimation{nb::cast(rows_of<double>(std::move(r.patterns))), std::move(r.steps)};
      },
      nb::arg("y"), nb::arg("count"), nb::arg("delta"), nb::kw_only(), nb::arg("rho") = 1.0,
      nb::arg("cooling") = 0.05, nb::arg("sweeps") = 300, nb::arg("finish") = 100,
      nb::arg("attempts") = 100, nb::arg("tolerance") = 2.5, nb::arg("seed") = 0,
      nb::arg("on_step").none() = nb::none(),
      "Seed 004: finds `count` patterns of the symmetric matrix y observed at noise Delta, one "
      "at a time by annealed spin dynamics, removing each from y; on_step(DecimationStep) after "
      "each.");
  m.def(
      "match_patterns",
      [](nb::handle truth, nb::handle found) {
        const matrix<double> xi = batch_arg<double>(truth, "truth").columns();
        const matrix<double> eta = batch_arg<double>(found, "found", xi.rows()).columns();
        const auto r = match_patterns(xi, eta);
        return std::make_pair(r.truth, r.overlap);
      },
      nb::arg("truth"), nb::arg("found"),
      "Greedy matching of found patterns (rows) to true ones up to sign: (the true pattern "
      "each found one is matched to, the normalised overlap of each pair).");
  m.def(
      "decimation_estimate",
      [](nb::handle found) {
        return square_out(decimation_estimate<double>(batch_arg<double>(found, "found").columns()));
      },
      nb::arg("found"),
      "Decimation's estimate of S = xi xi^T / N from the patterns found (rows): the sum of their "
      "outer products over N, (N, N).");
  m.def(
      "rie_estimate",
      [](nb::handle y, double delta, double width) {
        const matrix<double> ys = square_arg(y, "y");
        rie_result<double> r;
        {
          nb::gil_scoped_release release;
          r = rie_estimate<double>(ys, delta, width);
        }
        return nb::make_tuple(square_out(r.estimate), array_of<double>(std::move(r.observed)),
                              array_of<double>(std::move(r.cleaned)));
      },
      nb::arg("y"), nb::arg("delta"), nb::arg("width") = 0.0,
      "The rotationally invariant estimate of S from the symmetric y (seed 004's baseline): "
      "(estimate (N, N), the eigenvalues of y / sqrt(N) ascending, their cleaned values).");
  m.def(
      "matrix_mse",
      [](nb::handle estimate, nb::handle truth) {
        const matrix<double> s = square_arg(estimate, "estimate");
        return matrix_mse<double>(s, batch_arg<double>(truth, "truth", s.rows()).columns());
      },
      nb::arg("estimate"), nb::arg("truth"),
      "Seed 004's mMSE: ||estimate - S||_F^2 / (2 N), S the sum of the outer products of the "
      "true patterns (rows of truth, (P, N)) over N.");
}

}  // namespace engram::python
