// retrieve() from Python for any energy: the template every energy's translation unit
// instantiates (common.hpp declares it).
#pragma once

namespace engram::python {

/// A retrieval's (or integration's) result as numpy arrays; energy_trace only when recorded.
template <class T>
py_retrieval_result result_of(retrieval_result<T>&& r, bool trace) {
  py_retrieval_result out;
  out.states = any_array(rows_of<T>(std::move(r.states)));
  out.energies = any_array(array_of<T>(std::move(r.energies)));
  out.steps = any_array(array_of<std::int64_t>(std::move(r.steps)));
  out.converged = any_array(array_of<bool>(std::move(r.converged)));
  out.unsupported = any_array(array_of<bool>(std::move(r.unsupported)));
  out.diverged = any_array(array_of<bool>(std::move(r.diverged_flags)));
  // energy_trace is (T + 1) x B, row t the energies at step t: as numpy, rows are steps.
  if (trace) {
    matrix<T> steps = r.energy_trace.transpose();  // B x (T + 1), column-major = (T + 1, B) rows
    out.energy_trace = any_array(rows_of<T>(std::move(steps)));
  }
  return out;
}

template <class Energy>
py_retrieval_result run_retrieve(const Energy& energy, const shared_lock& lock, nb::handle queries,
                                 const py_stepper& stepper,
                                 const std::shared_ptr<const stop_rule_node>& stop,
                                 const py_retrieve_options& options,
                                 std::shared_ptr<void>* workspace) {
  using T = typename Energy::scalar_type;
  const auto x = batch_arg<T>(queries, "queries", energy.dim());
  const runtime_stop rule = checked_stop(stop);
  retrieve_options o;
  if (!options.clamp.is_none()) o.clamp = mask_arg(options.clamp, x.dim, x.batch);
  o.record_trace = options.record_trace;
  // A Python exception in the callback ends the retrieval and reaches the caller.
  if (!options.progress.is_none())
    o.progress = [call = python_callable{options.progress}](const retrieval_progress& p) {
      call(p);
    };
  retrieval_result<T> r = with_stepper<T>(stepper, [&](const auto& s) -> retrieval_result<T> {
    using S = std::decay_t<decltype(s)>;
    if constexpr (stepper_for<S, gradient_flow<Energy>>) {
      heavy_section section(lock);
      busy_section busy(lock);
      if (!workspace) return retrieve(energy, x.columns(), s, rule, o);
      using W = typename Energy::workspace_type;
      if (!*workspace) *workspace = std::make_shared<W>(energy.make_workspace());
      return retrieve(energy, x.columns(), s, rule, o, *static_cast<W*>(workspace->get()));
    } else {
      throw invalid_argument(
          "stepper CentroidIteration needs an energy with a compact kernel (LSR, Hybrid): it "
          "maps a state to the mean of its support");
    }
  });
  return result_of<T>(std::move(r), options.record_trace);
}

}  // namespace engram::python
