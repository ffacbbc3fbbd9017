// The adaptive Dormand-Prince 5(4) method (Dormand & Prince 1980; Hairer, Norsett & Wanner,
// Solving ODEs I, sec. II.5): seven stages, the fifth-order solution advances and the embedded
// fourth-order one estimates the error. Each column keeps its own step size h_j: a step is
// accepted when err_j = rms_i( e_ij / (atol + rtol max(|x_ij|, |x5_ij|)) ) <= 1, and h_j is then
// scaled by 0.9 err_j^(-1/5), clipped to [0.2, 5] (rejected steps shrink and retry within the
// same do_step, so every call advances every column by one accepted step). The last stage is
// f at the new state (first same as last), so dX/dt there comes for free.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "engram/backend/cpu.hpp"
#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/dynamics/field_call.hpp"

namespace engram {

template <real_scalar Scalar>
struct dormand_prince {
  using scalar_type = Scalar;
  Scalar initial_step = Scalar(0.01);   // h_0 of every column
  Scalar abs_tolerance = Scalar(1e-6);  // atol
  Scalar rel_tolerance = Scalar(1e-6);  // rtol
  Scalar max_step = Scalar(1e3);        // h never grows beyond this
  Scalar min_step = Scalar(1e-12);      // a column that needs a smaller step has failed
  index max_attempts = 64;              // rejections allowed within one step

  void validate() const {
    require_positive("dormand_prince.initial_step", initial_step);
    require_positive("dormand_prince.abs_tolerance", abs_tolerance);
    require_positive("dormand_prince.rel_tolerance", rel_tolerance);
    require_positive("dormand_prince.max_step", max_step);
    require_positive("dormand_prince.min_step", min_step);
    if (!(min_step <= initial_step && initial_step <= max_step))
      throw invalid_argument(detail::message("dormand_prince.initial_step is ", initial_step,
                                             "; it must lie in [min_step, max_step] = [", min_step,
                                             ", ", max_step, "]"));
    if (max_attempts < 1)
      throw invalid_argument(
          detail::message("dormand_prince.max_attempts is ", max_attempts, "; it must be >= 1"));
  }

  struct state {
    vector<Scalar> h;          // next step size of each column
    vector<Scalar> last_step;  // the step size each column's last accepted step used
    Eigen::Matrix<bool, Eigen::Dynamic, 1> failed;  // needed a step below min_step
    std::array<matrix<Scalar>, 6> k;                // stages 2..7
    matrix<Scalar> trial, error;
    vector<Scalar> e_trial, e_stage;
    Eigen::Matrix<bool, Eigen::Dynamic, 1> done;

    void compact(const std::vector<index>& keep) {
      const index n = index(keep.size());
      for (std::size_t i = 0; i < keep.size(); ++i) {
        h(index(i)) = h(keep[i]);
        last_step(index(i)) = last_step(keep[i]);
        failed(index(i)) = failed(keep[i]);
      }
      h.conservativeResize(n);
      last_step.conservativeResize(n);
      failed.conservativeResize(n);
    }
  };

  template <vector_field Field>
  state make_state(Field&, const matrix<Scalar>& x) const {
    state s;
    s.h.setConstant(x.cols(), initial_step);
    s.last_step.setZero(x.cols());
    s.failed.setConstant(x.cols(), false);
    return s;
  }

  template <vector_field Field>
  void do_step(Field& field, state& s, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    // Butcher tableau; row 7 is the fifth-order solution, E the fifth minus the fourth order.
    constexpr Scalar a21 = Scalar(1) / 5;
    constexpr Scalar a31 = Scalar(3) / 40, a32 = Scalar(9) / 40;
    constexpr Scalar a41 = Scalar(44) / 45, a42 = Scalar(-56) / 15, a43 = Scalar(32) / 9;
    constexpr Scalar a51 = Scalar(19372) / 6561, a52 = Scalar(-25360) / 2187,
                     a53 = Scalar(64448) / 6561, a54 = Scalar(-212) / 729;
    constexpr Scalar a61 = Scalar(9017) / 3168, a62 = Scalar(-355) / 33, a63 = Scalar(46732) / 5247,
                     a64 = Scalar(49) / 176, a65 = Scalar(-5103) / 18656;
    constexpr Scalar b1 = Scalar(35) / 384, b3 = Scalar(500) / 1113, b4 = Scalar(125) / 192,
                     b5 = Scalar(-2187) / 6784, b6 = Scalar(11) / 84;
    constexpr Scalar e1 = Scalar(71) / 57600, e3 = Scalar(-71) / 16695, e4 = Scalar(71) / 1920,
                     e5 = Scalar(-17253) / 339200, e6 = Scalar(22) / 525, e7 = Scalar(-1) / 40;
    const index d = x.rows(), n = x.cols();
    for (auto& m : s.k) m.resize(d, n);
    s.trial.resize(d, n);
    s.error.resize(d, n);
    s.e_trial.resize(n);
    s.e_stage.resize(n);
    s.done.setConstant(n, false);
    for (index j = 0; j < n; ++j)
      if (s.failed(j)) s.done(j) = true;  // a failed column stays where it is
    const matrix<Scalar>& k1 = dxdt;
    auto& [k2, k3, k4, k5, k6, k7] = s.k;
    const auto h = s.h.asDiagonal();

    for (index attempt = 0; attempt < max_attempts && !s.done.all(); ++attempt) {
      s.trial = x + (a21 * k1) * h;
      evaluate_field(field, s.trial, k2, s.e_stage);
      s.trial = x + (a31 * k1 + a32 * k2) * h;
      evaluate_field(field, s.trial, k3, s.e_stage);
      s.trial = x + (a41 * k1 + a42 * k2 + a43 * k3) * h;
      evaluate_field(field, s.trial, k4, s.e_stage);
      s.trial = x + (a51 * k1 + a52 * k2 + a53 * k3 + a54 * k4) * h;
      evaluate_field(field, s.trial, k5, s.e_stage);
      s.trial = x + (a61 * k1 + a62 * k2 + a63 * k3 + a64 * k4 + a65 * k5) * h;
      evaluate_field(field, s.trial, k6, s.e_stage);
      s.trial = x + (b1 * k1 + b3 * k3 + b4 * k4 + b5 * k5 + b6 * k6) * h;
      evaluate_field(field, s.trial, k7, s.e_trial);
      s.error = (e1 * k1 + e3 * k3 + e4 * k4 + e5 * k5 + e6 * k6 + e7 * k7) * h;

      for (index j = 0; j < n; ++j) {
        if (s.done(j)) continue;
        Scalar sum = 0;
        for (index i = 0; i < d; ++i) {
          const Scalar scale =
              abs_tolerance + rel_tolerance * std::max(std::abs(x(i, j)), std::abs(s.trial(i, j)));
          const Scalar r = s.error(i, j) / scale;
          sum += r * r;
        }
        const Scalar err = std::sqrt(sum / Scalar(d));
        if (err <= Scalar(1)) {
          x.col(j) = s.trial.col(j);
          dxdt.col(j) = k7.col(j);
          e(j) = s.e_trial(j);
          s.last_step(j) = s.h(j);
          const Scalar grow =
              err > Scalar(0) ? Scalar(0.9) * std::pow(err, Scalar(-0.2)) : Scalar(5);
          s.h(j) = std::min(max_step, s.h(j) * std::clamp(grow, Scalar(0.2), Scalar(5)));
          s.done(j) = true;
        } else {
          // A NaN error (a state the field cannot take) shrinks the step as far as allowed.
          const Scalar shrink =
              std::isfinite(err) ? Scalar(0.9) * std::pow(err, Scalar(-0.2)) : Scalar(0.2);
          s.h(j) *= std::clamp(shrink, Scalar(0.2), Scalar(0.9));
          if (s.h(j) < min_step) {
            s.failed(j) = true;
            s.done(j) = true;
          }
        }
      }
    }
    for (index j = 0; j < n; ++j)
      if (!s.done(j)) s.failed(j) = true;  // max_attempts rejections in a row
  }
};

}  // namespace engram
