// One evaluation of a vector field as a stepper needs it: dX/dt, and the Lyapunov energy too
// when the field has one (a field without one leaves e as it is).
#pragma once

#include <vector>

#include "engram/core/concepts.hpp"
#include "engram/core/types.hpp"

namespace engram {

template <vector_field Field>
void evaluate_field(Field& field, const matrix<typename Field::scalar_type>& x,
                    matrix<typename Field::scalar_type>& dxdt,
                    vector<typename Field::scalar_type>& e) {
  if constexpr (lyapunov_field<Field>)
    field(x, dxdt, e);
  else
    field(x, dxdt);
}

/// A stepper state with nothing per column.
struct no_stepper_state {
  void compact(const std::vector<index>&) {}
};

}  // namespace engram
