// retrieve() from Python for any energy: the template every energy's translation unit
// instantiates (common.hpp declares it).
#pragma once

namespace engram::python {

template <class Energy>
py_retrieval_result run_retrieve(const Energy& energy, const shared_lock& lock, nb::handle queries,
                                 const py_stepper& stepper,
                                 const std::shared_ptr<const stop_rule_node>& stop,
                                 const py_retrieve_options& options,
                                 typename Energy::workspace_type* workspace) {
  using T = typename Energy::scalar_type;
  const auto x = batch_arg<T>(queries, "queries", energy.dim());
  const runtime_stop rule = checked_stop(stop);
  retrieve_options o;
  if (!options.clamp.is_none()) o.clamp = mask_arg(options.clamp, x.dim, x.batch);
  o.record_trace = options.record_trace;
  if (!options.progress.is_none()) {
    nb::object callback = options.progress;
    o.progress = [callback](const retrieval_progress& p) {
      nb::gil_scoped_acquire gil;
      callback(p);  // a Python exception here ends the retrieval and reaches the caller
    };
  }
  retrieval_result<T> r = with_stepper<T>(stepper, [&](const auto& s) -> retrieval_result<T> {
    using S = std::decay_t<decltype(s)>;
    if constexpr (stepper_for<S, gradient_flow<Energy>>) {
      heavy_section section(lock);
      if (workspace) return retrieve(energy, x.columns(), s, rule, o, *workspace);
      return retrieve(energy, x.columns(), s, rule, o);
    } else {
      throw invalid_argument(
          "stepper CentroidIteration needs an energy with a compact kernel (LSR, Hybrid): it "
          "maps a state to the mean of its support");
    }
  });
  py_retrieval_result out;
  out.states = nb::cast(rows_of<T>(std::move(r.states)));
  out.energies = nb::cast(array_of<T>(std::move(r.energies)));
  out.steps = nb::cast(array_of<std::int64_t>(std::move(r.steps)));
  out.converged = nb::cast(array_of<bool>(std::move(r.converged)));
  out.unsupported = nb::cast(array_of<bool>(std::move(r.unsupported)));
  out.diverged = nb::cast(array_of<bool>(std::move(r.diverged_flags)));
  // energy_trace is (T + 1) x B, row t the energies at step t: as numpy, rows are steps.
  if (options.record_trace) {
    matrix<T> trace = r.energy_trace.transpose();  // B x (T + 1), column-major = (T + 1, B) rows
    out.energy_trace = nb::cast(rows_of<T>(std::move(trace)));
  } else {
    out.energy_trace = nb::none();
  }
  return out;
}

}  // namespace engram::python
