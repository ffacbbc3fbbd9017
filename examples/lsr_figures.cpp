// lsr_figures: experiments of seed 002 (Hoover et al., "Dense Associative Memory with
// Epanechnikov Energy", LSR) beside emergent_memories (Fig. 3 left).
//
//   lsr_figures likelihood   Sec. 4.2, Fig. 3 right and Figs. 6-7 (App. C.3): a known density
//       p(x), a mixture of k = 10 isotropic Gaussians in d = 8 with means uniform in [0,1]^d and
//       sigma = 0.1; M stored patterns are drawn from p. For a geometric sweep of beta over
//       [2/d, 2/r_min^2] (App. C.2, r_min the smallest distance between stored patterns: from
//       supports that overlap everywhere to supports holding one pattern each) it finds
//         LSR: every local minimum exactly (Algorithm 3, enumerate_lsr_minima), the emergent
//              ones and the stored patterns still minima; and the memories Algorithm 1
//              (centroid_iteration) reaches from the starts below;
//         LSE: the end points of gradient descent (eq. 6) from the same starts with App.
//              C.3.3's cosine-decayed rate, each ending at ||grad E|| < --gradient-tol or
//              after its T = --max-steps steps (C.3.3 takes both as memories); the distinct end
//              points
//              (within 1e-4) and the memories after merging those closer than 2/sqrt(beta)
//              (C.3.3's rule; --merge), which are the ones counted and scored;
//       the starts lie on the thin support boundary of every stored pattern,
//       2/beta - delta <= ||x - xi||^2 < 2/beta, delta = --shell * 2/beta, uniform in that
//       shell's volume. It scores every set of memories by its mean log p, over --seeds draws of
//       the stored patterns and starts (p itself is fixed by --seed), and averages per beta
//       index with standard errors (App. C.3.2: the x axis is the mean beta of that index).
//       An LSR enumeration whose candidate sets would exceed --max-subsets (small beta, where
//       most patterns interact) is skipped with the reason printed; its values read nan.
//       The log-likelihoods are means over the unique memories of each kind. Default: M = 40
//       (--stored), 12 betas (--beta-points), 2 seeds, 50 starts per pattern, 1000 descent
//       steps (--max-steps) at rate 0.1 -> 0.001
//       (the paper's flow time, 13000 x 0.01 -> 1e-4, in 13 times fewer steps), enumerations
//       up to 1e8 candidate sets. --full: M = 100 (Figs. 6-7 use 10 and 100), 15 betas, 5
//       seeds, 500 starts per pattern, 13000 steps at 0.01 -> 1e-4, up to 1e9 candidate sets.
//       Writes likelihood.csv (per beta index), likelihood_seeds.csv (per seed)
//       and likelihood.png.
//
//   lsr_figures grid   Theorem 2 (eqs. 4-5) and Proposition 3: stored patterns on a regular
//       grid, the cell centres (m + 1/2)/n of [0,1]^d, so M = n^d, with beta set so that the
//       support radius sqrt(2/beta) spans a given number of grid spacings. Radii are offset by
//       --offset (3%) from the nominal values: a grid point exactly at distance r from a
//       centroid is the degenerate tie of Algorithm 3, and the offset keeps every memory off
//       the support edge (Theorem 2's r* > 0 at every minimum confirms it). For each grid it
//       counts the LSR minima exactly, stored and emergent, and compares the emergent count
//       with Prop. 3's order (M^{1/d} - lambda^{1/d} + 1)^d, lambda = M V^{-1} (8/beta)^{d/2},
//       V = 1. The Theta hides a constant that depends on d (and on the radius), so the
//       program reports the ratio count / formula, which should stay in a bounded band as n
//       grows; also with lambda_exact = |B(x)| measured at a grid cell centre (the number of
//       patterns the support actually holds). The appendix proof writes "- 1" where the
//       statement has "+ 1"; a window of L consecutive points fits n - L + 1 ways along a
//       line of n, so this follows the statement. For uniform random patterns (same M, same
//       beta) it counts the minima and gives eq. 5's exponent
//       M (V_d/V) (2/beta)^{d/2} log(e V/V_d (beta/2)^{d/2}). For the emergent minima of both
//       it gives Theorem 2's basin radius r* (eq. 4, D_max over all memories, as the theorem
//       states: with D_max over the support alone the ball could reach a memory outside it),
//       min and median, and checks on a few minima that Algorithm 1 from points inside the
//       r*-ball returns the minimum bit for bit and that fixed-step gradient descent reaches
//       it to rounding. Default: d = 2, n 4 6 8 10 12, radii 1.5 and 2 spacings; d = 3,
//       n 3 4, radii 1 and 1.2 spacings (seconds). --full: d = 2 up to n = 32, d = 3 up to
//       n = 8 (radius 1) and n = 6 (radius 1.2) (minutes).
//       Larger radii (2.5 spacings in d = 2, 1.5 in d = 3) make Algorithm 3 visit every set of
//       patterns within 2r of each other, 2^(points in a ball of diameter 2r) sets per
//       position: more than 5 minutes at n = 6 in d = 2 (2.5 spacings) and 90 s at n = 3 in
//       d = 3 (1.5 spacings). An enumeration whose bound on candidate sets exceeds
//       --max-subsets (1e14: the uniform patterns at 2 spacings from n = 8 on, where random
//       clusters make it explode) is skipped with the reason printed; its values read nan.
//       Writes grid.csv and grid.png.
//
// Flags given with --full keep their own values. Everything is in double precision; each run
// prints its table as it goes and draws its chart with gnuplot beside the CSV. A progress line
// on stderr counts the betas (likelihood: over all seeds) or the grids done, and follows each
// enumeration and descent while it runs (--quiet silences it).
#include <CLI/CLI.hpp>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include "cli_checks.hpp"
#include "gnuplot.hpp"
#include "progress.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// A CLI11 check for numbers in (lo, hi].
CLI::Validator in_open_closed(double lo, double hi) {
  const std::string range =
      "(" + example::short_number(lo) + ", " + example::short_number(hi) + "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v) || !(v > lo && v <= hi))
          return "value " + text + " must lie in " + range;
        return {};
      },
      range);
}

// Writes a CSV under `path` only once complete: into path.part, then renamed.
template <class Put>
void write_csv(const std::filesystem::path& path, const std::string& header, const Put& put) {
  std::ofstream csv(path.string() + ".part");
  csv << header << '\n';
  csv.precision(10);
  put(csv);
  csv.close();
  if (!csv) throw engram::io_error("cannot write " + path.string());
  std::filesystem::rename(path.string() + ".part", path);
}

void draw(const std::string& script, const std::filesystem::path& csv,
          const std::filesystem::path& png) {
  if (plot::gnuplot(script, png))
    std::printf("wrote %s and %s\n", csv.c_str(), png.c_str());
  else
    std::printf("wrote %s\n", csv.c_str());
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A 64-bit seed for replicate `index` of `seed` (splitmix64), so that neighbouring seeds and
// replicates do not share their Philox streams.
std::uint64_t derived_seed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Mean and standard error of the finite values (0 for one value, nan for none).
struct summary {
  double mean = nan, se = nan;
  int n = 0;
};
summary summarise(const std::vector<double>& values) {
  summary s;
  double sum = 0, sum2 = 0;
  for (double v : values)
    if (std::isfinite(v)) sum += v, ++s.n;
  if (s.n == 0) return s;
  s.mean = sum / s.n;
  for (double v : values)
    if (std::isfinite(v)) sum2 += (v - s.mean) * (v - s.mean);
  s.se = s.n > 1 ? std::sqrt(sum2 / (s.n - 1) / s.n) : 0.0;
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return nan;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

double unit_ball_volume(int d) {
  return std::pow(std::numbers::pi, d / 2.0) / std::tgamma(d / 2.0 + 1);
}

double smallest_distance(const MatrixXd& patterns) {
  const MatrixXd distances = engram::pairwise_distances(patterns);
  double r = std::numeric_limits<double>::infinity();
  for (Index a = 0; a < patterns.cols(); ++a)
    for (Index b = a + 1; b < patterns.cols(); ++b) r = std::min(r, distances(a, b));
  return r;
}

// Gradient descent x <- x - eta_t grad E(x) with App. C.3.3's cosine-decayed rate,
// eta_t = last + (first - last) (1 + cos(pi t / (steps - 1))) / 2, t = 0 .. steps - 1 (then
// `last`). A stepper of engram's concept: every column starts at t = 0 together, so one counter
// serves the whole working set.
template <engram::real_scalar Scalar>
struct cosine_descent {
  using scalar_type = Scalar;
  Scalar first = Scalar(0.01), last = Scalar(1e-4);
  Index steps = 13000;

  void validate() const {
    engram::require_positive("cosine_descent.first", first);
    engram::require_positive("cosine_descent.last", last);
    if (steps < 1)
      throw engram::invalid_argument("cosine_descent.steps is " + std::to_string(steps) +
                                     "; it must be >= 1");
  }
  struct state {
    Index t = 0;
    void compact(const std::vector<Index>&) {}
  };
  template <engram::vector_field Field>
  state make_state(Field&, const engram::matrix<Scalar>&) const {
    return {};
  }
  template <engram::vector_field Field>
  void do_step(Field& field, state& s, engram::matrix<Scalar>& x, engram::matrix<Scalar>& dxdt,
               engram::vector<Scalar>& e) const {
    const double phase = std::min(1.0, double(s.t) / double(std::max<Index>(1, steps - 1)));
    const Scalar eta =
        last + (first - last) * Scalar(0.5 * (1 + std::cos(std::numbers::pi * phase)));
    x.noalias() += eta * dxdt;
    ++s.t;
    engram::evaluate_field(field, x, dxdt, e);
  }
};

// ---------------------------------------------------------------------------------------------
// likelihood (sec. 4.2, Fig. 3 right, Figs. 6-7, App. C.3)

struct likelihood_options {
  int dim = 8, components = 10, patterns = 40, beta_points = 12, seeds = 2, starts = 50;
  double sigma = 0.1, shell = 0.1, rate = 0.1, rate_end = 0.001, merge = 2, gradient_tol = 1e-8;
  long max_steps = 1000;
  double max_subsets = 1e8;
  std::uint64_t seed = 1;
  bool full = false, quiet = false;
  std::string out = "lsr_figures_out";
};

// One seed at one beta.
struct likelihood_row {
  double beta = nan, lsr_minima = nan, lsr_emergent = nan, lsr_kept = nan, alg1_unique = nan,
         alg1_missing = nan, alg1_unfinished = nan, lse_distinct = nan, lse_unique = nan,
         lse_late = nan, ll_stored = nan, ll_lsr = nan, ll_alg1 = nan, ll_lse = nan,
         lsr_seconds = nan, lse_seconds = nan;
};

// Greedy clusters of the columns of `points` within `radius` of a cluster's first member
// (App. C.3.3 counts LSE memories closer than 2/sqrt(beta) as one); returns the first members.
std::vector<Index> merged_heads(const MatrixXd& points, double radius) {
  std::vector<Index> heads;
  for (Index i = 0; i < points.cols(); ++i) {
    bool joined = false;
    for (Index h : heads)
      if ((points.col(h) - points.col(i)).norm() < radius) {
        joined = true;
        break;
      }
    if (!joined) heads.push_back(i);
  }
  return heads;
}

// App. C.3.3's end of an LSE descent: converged once ||grad E|| < tol, or once the schedule's
// T steps have run ("or when the number of iterations T exceeds some threshold at small
// alpha"), so that every start yields a memory. A stop rule of engram's concept; it counts the
// columns that ended by the step limit with a gradient still above tol.
struct end_of_schedule {
  static constexpr bool bounded = true;
  Index steps;
  double tol;
  std::atomic<long>* late;
  void validate() const {
    engram::require_positive("end_of_schedule.tol", tol);
    if (steps < 1) throw engram::invalid_argument("end_of_schedule.steps must be >= 1");
  }
  engram::stop_status check(const engram::column_state& c) const {
    if (c.gradient_norm < tol) return engram::stop_status::converged;
    if (c.step < steps) return engram::stop_status::running;
    late->fetch_add(1, std::memory_order_relaxed);
    return engram::stop_status::converged;
  }
};

// How many columns of `found` are not within `tol` of a column of `minima` (sorted search on
// the first coordinate).
Index missing_from(const MatrixXd& found, const MatrixXd& minima, double tol) {
  std::vector<Index> order(std::size_t(minima.cols()));
  for (Index i = 0; i < minima.cols(); ++i) order[std::size_t(i)] = i;
  std::sort(order.begin(), order.end(),
            [&](Index a, Index b) { return minima(0, a) < minima(0, b); });
  Index missing = 0;
  for (Index j = 0; j < found.cols(); ++j) {
    const double x0 = found(0, j);
    auto it = std::lower_bound(order.begin(), order.end(), x0 - tol,
                               [&](Index a, double v) { return minima(0, a) < v; });
    bool hit = false;
    for (; it != order.end() && minima(0, *it) <= x0 + tol && !hit; ++it)
      hit = (minima.col(*it) - found.col(j)).norm() <= tol;
    missing += !hit;
  }
  return missing;
}

void run_likelihood(const likelihood_options& o) {
  if (o.rate_end > o.rate)
    throw engram::invalid_argument("--rate-end " + example::short_number(o.rate_end) +
                                   " is above --rate " + example::short_number(o.rate) +
                                   "; the cosine schedule decays from --rate to --rate-end");
  if (double(o.patterns) * o.starts > 2e6)
    throw engram::invalid_argument(
        std::to_string(o.patterns) + " patterns x " + std::to_string(o.starts) +
        " starts per pattern is above 2e6 descents per beta; lower --starts or --stored");

  // p is fixed by --seed; the stored patterns and the starts change with each replicate.
  const engram::philox_source mixture_rng(derived_seed(o.seed, 1000));
  MatrixXd means(o.dim, o.components);
  mixture_rng.fill_uniform(means, 0);
  const engram::gaussian_mixture<double> density(means, o.sigma);

  std::printf(
      "p: %d Gaussians in d = %d, sigma = %g; M = %d stored patterns, %d starts each on the "
      "shell 2/beta - delta <= ||x - xi||^2 < 2/beta (delta = %g x 2/beta)\nLSE: %ld descent "
      "steps at rate %g -> %g (cosine), converged at ||grad E|| < %g; %d seeds\n",
      o.components, o.dim, o.sigma, o.patterns, o.starts, o.shell, o.max_steps, o.rate, o.rate_end,
      o.gradient_tol, o.seeds);
  std::printf("%4s %3s %9s | %8s %8s %5s %8s | %7s %7s %5s | %8s %8s %8s %8s | %5s %5s\n", "seed",
              "i", "beta", "LSR min", "emergent", "kept", "Alg1 uniq", "LSE uniq", "distinct",
              "at T", "ll store", "ll LSR", "ll Alg1", "ll LSE", "s LSR", "s LSE");
  std::fflush(stdout);
  // The betas done over all seeds, shown between the long calls; each enumeration and descent
  // shows its own line while it runs (the betas line is cleared first: the two share a row).
  example::progress_line line("likelihood", o.quiet);
  const long total = long(o.seeds) * o.beta_points;

  std::vector<std::vector<likelihood_row>> rows(std::size_t(o.seeds));
  const Index n_starts = Index(o.patterns) * o.starts;
  for (int s = 0; s < o.seeds; ++s) {
    const MatrixXd patterns = density.sample(o.patterns, derived_seed(o.seed, 2 * s));
    const engram::philox_source rng(derived_seed(o.seed, 2 * s + 1));
    // Directions uniform on the sphere and a uniform number that places each start in the
    // shell's volume; the same for every beta (only the shell's radius changes).
    MatrixXd directions(o.dim, n_starts);
    rng.fill_normal(directions, 0);
    directions.colwise().normalize();
    VectorXd place(n_starts);
    rng.fill_uniform(place, 1);
    const double ll_stored = density.mean_log_likelihood(patterns);
    const double r_min = smallest_distance(patterns);
    if (!(r_min > 0))
      throw engram::invalid_argument("two stored patterns coincide (seed replicate " +
                                     std::to_string(s) + "); the beta range needs r_min > 0");
    const double beta_lo = 2.0 / o.dim, beta_hi = 2.0 / (r_min * r_min);
    if (!(beta_hi > beta_lo))
      throw engram::invalid_argument("2/r_min^2 = " + example::short_number(beta_hi) +
                                     " is not above 2/d = " + example::short_number(beta_lo) +
                                     ": the stored patterns are too far apart for a sweep");
    engram::dense_memory<double> memory(patterns);

    for (int i = 0; i < o.beta_points; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      likelihood_row row;
      const double beta = beta_lo * std::pow(beta_hi / beta_lo, double(i) / (o.beta_points - 1));
      const long done = long(s) * o.beta_points + i;
      const std::string at = "seed " + std::to_string(s + 1) + " of " + std::to_string(o.seeds) +
                             ", beta " + std::to_string(i + 1) + " of " +
                             std::to_string(o.beta_points);
      line.clear();
      row.beta = beta;
      row.ll_stored = ll_stored;

      // Starts on the thin boundary of each pattern's support, uniform in the shell's volume
      // (strictly inside: the radius is kept a relative 1e-12 below sqrt(2/beta)).
      const double outer = std::sqrt(2.0 / beta), inner = std::sqrt((1 - o.shell) * 2.0 / beta);
      const double lo = std::pow(inner, o.dim), hi = std::pow(outer, o.dim);
      MatrixXd starts(o.dim, n_starts);
      for (Index j = 0; j < n_starts; ++j) {
        const double radius =
            std::min(std::pow(lo + (1 - place(j)) * (hi - lo), 1.0 / o.dim), outer * (1 - 1e-12));
        starts.col(j) = patterns.col(j / o.starts) + radius * directions.col(j);
      }

      engram::lsr_energy<double> lsr(memory, beta);
      engram::minima_census<double> census;
      bool enumerated = false;
      try {
        example::progress_line enumeration(at + ", LSR minima", o.quiet);
        census = engram::enumerate_lsr_minima(
            lsr, {.max_subsets = o.max_subsets, .progress = enumeration.work("roots")});
        enumerated = true;
        row.lsr_minima = double(census.count());
        row.lsr_emergent = double(census.emergent_count());
        row.lsr_kept = double(census.retrievable_count());
        row.ll_lsr = density.mean_log_likelihood(census.minima);
      } catch (const engram::invalid_argument& e) {
        std::printf("seed %d, beta %.4g: LSR enumeration skipped: %s\n", s, beta, e.what());
      }

      // Algorithm 1 from the starts: exact centroids, so distinct means distinct.
      example::progress_line alg1_line(at + ", Algorithm 1", o.quiet);
      const auto alg1 =
          engram::descent_minima(lsr, patterns, starts, engram::centroid_iteration<double>{},
                                 engram::stop::fixed_point() || engram::stop::after(1000),
                                 {.tolerance = 1e-9, .progress = alg1_line.retrieval(1000)});
      alg1_line.clear();
      row.alg1_unique = double(alg1.count());
      row.alg1_unfinished = double(alg1.unfinished);
      if (alg1.count() > 0) row.ll_alg1 = density.mean_log_likelihood(alg1.minima);
      if (enumerated) row.alg1_missing = double(missing_from(alg1.minima, census.minima, 1e-9));

      const double lsr_seconds = seconds_since(t0);

      // LSE: eq. 6 with the cosine-decayed rate; distinct end points within 1e-4, then merged
      // within --merge / sqrt(beta) (App. C.3.3), the count and the points scored.
      const auto t1 = std::chrono::steady_clock::now();
      engram::lse_energy<double> lse(memory, beta);
      std::atomic<long> late{0};
      example::progress_line lse_line(at + ", LSE descent", o.quiet);
      const auto descent = engram::descent_minima(
          lse, patterns, starts,
          cosine_descent<double>{.first = o.rate, .last = o.rate_end, .steps = Index(o.max_steps)},
          end_of_schedule{Index(o.max_steps), o.gradient_tol, &late},
          {.tolerance = 1e-4, .progress = lse_line.retrieval(Index(o.max_steps))});
      lse_line.clear();
      const std::vector<Index> heads = merged_heads(descent.minima, o.merge / std::sqrt(beta));
      MatrixXd lse_memories(o.dim, Index(heads.size()));
      for (std::size_t h = 0; h < heads.size(); ++h)
        lse_memories.col(Index(h)) = descent.minima.col(heads[h]);
      row.lse_distinct = double(descent.count());
      row.lse_unique = double(heads.size());
      row.lse_late = double(late.load());
      if (!heads.empty()) row.ll_lse = density.mean_log_likelihood(lse_memories);
      row.lsr_seconds = lsr_seconds;
      row.lse_seconds = seconds_since(t1);

      line.clear();
      std::printf(
          "%4d %3d %9.4g | %8.0f %8.0f %5.0f %8.0f | %7.0f %7.0f %5.0f | %8.3f %8.3f %8.3f "
          "%8.3f | %5.1f %5.1f\n",
          s, i, beta, row.lsr_minima, row.lsr_emergent, row.lsr_kept, row.alg1_unique,
          row.lse_unique, row.lse_distinct, row.lse_late, row.ll_stored, row.ll_lsr, row.ll_alg1,
          row.ll_lse, row.lsr_seconds, row.lse_seconds);
      if (std::isfinite(row.alg1_missing) && row.alg1_missing > 0)
        std::printf(
            "  note: %.0f of Algorithm 1's end points are not among the enumerated "
            "minima (support ties?)\n",
            row.alg1_missing);
      if (row.alg1_unfinished > 0)
        std::printf("  note: %.0f Algorithm 1 runs ended unsupported or without a fixed point\n",
                    row.alg1_unfinished);
      std::fflush(stdout);
      rows[std::size_t(s)].push_back(row);
      line.count(done + 1, total, "betas");
    }
  }
  line.clear();

  const std::filesystem::path dir(o.out);
  const auto seeds_path = dir / "likelihood_seeds.csv";
  write_csv(seeds_path,
            "seed,beta_index,beta,lsr_minima,lsr_emergent,lsr_kept,alg1_unique,alg1_missing,"
            "alg1_unfinished,lse_unique,lse_distinct,lse_late,ll_stored,ll_lsr,ll_alg1,ll_lse,"
            "lsr_seconds,lse_seconds",
            [&](std::ostream& csv) {
              for (int s = 0; s < o.seeds; ++s)
                for (int i = 0; i < o.beta_points; ++i) {
                  const auto& r = rows[std::size_t(s)][std::size_t(i)];
                  csv << s << ',' << i << ',' << r.beta << ',' << r.lsr_minima << ','
                      << r.lsr_emergent << ',' << r.lsr_kept << ',' << r.alg1_unique << ','
                      << r.alg1_missing << ',' << r.alg1_unfinished << ',' << r.lse_unique << ','
                      << r.lse_distinct << ',' << r.lse_late << ',' << r.ll_stored << ','
                      << r.ll_lsr << ',' << r.ll_alg1 << ',' << r.ll_lse << ',' << r.lsr_seconds
                      << ',' << r.lse_seconds << '\n';
                }
            });
  std::printf("wrote %s\n", seeds_path.c_str());

  // Per beta index over seeds (App. C.3.2).
  const std::vector<std::pair<const char*, double likelihood_row::*>> fields = {
      {"beta", &likelihood_row::beta},
      {"ll_stored", &likelihood_row::ll_stored},
      {"ll_lsr", &likelihood_row::ll_lsr},
      {"ll_alg1", &likelihood_row::ll_alg1},
      {"ll_lse", &likelihood_row::ll_lse},
      {"lsr_minima", &likelihood_row::lsr_minima},
      {"lsr_emergent", &likelihood_row::lsr_emergent},
      {"lsr_kept", &likelihood_row::lsr_kept},
      {"alg1_unique", &likelihood_row::alg1_unique},
      {"lse_unique", &likelihood_row::lse_unique},
      {"lse_distinct", &likelihood_row::lse_distinct},
      {"lse_late", &likelihood_row::lse_late}};
  std::string header = "beta_index,lsr_seeds";
  for (const auto& f : fields) header += std::string(",") + f.first + "," + f.first + "_se";
  std::printf(
      "\nmean (standard error) over %d seeds; LSR columns over the seeds whose "
      "enumeration ran\n%3s %9s %4s | %16s %16s %16s %16s | %15s %13s %15s %15s\n",
      o.seeds, "i", "beta", "n", "ll stored", "ll LSR", "ll Alg1", "ll LSE", "LSR minima",
      "LSR kept", "Alg1 unique", "LSE unique");
  const auto csv_path = dir / "likelihood.csv";
  write_csv(csv_path, header, [&](std::ostream& csv) {
    for (int i = 0; i < o.beta_points; ++i) {
      std::vector<summary> sums;
      int lsr_seeds = 0;
      for (int s = 0; s < o.seeds; ++s)
        lsr_seeds += std::isfinite(rows[std::size_t(s)][std::size_t(i)].lsr_minima);
      csv << i << ',' << lsr_seeds;
      for (const auto& f : fields) {
        std::vector<double> v;
        for (int s = 0; s < o.seeds; ++s)
          v.push_back(rows[std::size_t(s)][std::size_t(i)].*f.second);
        sums.push_back(summarise(v));
        csv << ',' << sums.back().mean << ',' << sums.back().se;
      }
      csv << '\n';
      std::printf(
          "%3d %9.4g %4d | %8.3f (%5.3f) %8.3f (%5.3f) %8.3f (%5.3f) %8.3f (%5.3f) | %7.1f "
          "(%5.1f) %5.1f (%5.1f) %7.1f (%5.1f) %7.1f (%5.1f)\n",
          i, sums[0].mean, lsr_seeds, sums[1].mean, sums[1].se, sums[2].mean, sums[2].se,
          sums[3].mean, sums[3].se, sums[4].mean, sums[4].se, sums[5].mean, sums[5].se,
          sums[7].mean, sums[7].se, sums[8].mean, sums[8].se, sums[9].mean, sums[9].se);
    }
  });

  // Columns of likelihood.csv: 1 beta_index, 2 lsr_seeds, then (mean, se) pairs from 3.
  const auto col = [&](const std::string& name) {
    for (std::size_t k = 0; k < fields.size(); ++k)
      if (name == fields[k].first) return std::to_string(3 + 2 * k);
    return std::string("0");
  };
  const auto png = dir / "likelihood.png";
  const std::string data = plot::quoted(csv_path.string());
  double beta_min = std::numeric_limits<double>::infinity(), beta_max = 0;
  for (const auto& seed_rows : rows)
    for (const auto& r : seed_rows)
      beta_min = std::min(beta_min, r.beta), beta_max = std::max(beta_max, r.beta);
  const auto errors = [&](const std::string& name, const std::string& title,
                          const std::string& style) {
    const std::string c = col(name);
    return data + " skip 1 using " + col("beta") + ":" + c + ":" +
           std::to_string(std::stoi(c) + 1) + " with yerrorlines " + style + " title " +
           plot::quoted(title);
  };
  std::string script =
      "set terminal pngcairo noenhanced size 1000,1250 font 'sans,10'\nset output " +
      plot::quoted(png.string()) +
      "\nset datafile separator ','\nset datafile missing 'nan'\nset grid\nset key outside "
      "right\nset logscale x\nset xrange [" +
      example::short_number(beta_min / 1.3) + ":" + example::short_number(beta_max * 1.3) +
      "]\nset multiplot layout 3,1 title " +
      plot::quoted("seed 002 sec. 4.2: M = " + std::to_string(o.patterns) + " patterns from " +
                   std::to_string(o.components) + " Gaussians in d = " + std::to_string(o.dim) +
                   ", sigma = " + example::short_number(o.sigma) +
                   "; mean and standard error over " + std::to_string(o.seeds) + " seeds") +
      "\nset title 'Mean log-likelihood of the memories under p'\nset ylabel 'mean log p'\nplot " +
      errors("ll_lsr", "LSR, all minima (exact)", "pt 7 lc 'red'") + ", " +
      errors("ll_alg1", "LSR, Algorithm 1 from the starts", "pt 6 lc 'orange'") + ", " +
      errors("ll_lse", "LSE memories (merged) from the starts", "pt 5 lc 'blue'") + ", " +
      errors("ll_stored", "stored patterns", "pt 0 dt 2 lc 'black'") +
      "\nset title 'Unique memories (zeros not drawn)'\nset logscale y\nset ylabel 'count'\n"
      "plot " +
      errors("lsr_minima", "LSR minima (exact)", "pt 7 lc 'red'") + ", " +
      errors("alg1_unique", "LSR, reached by Algorithm 1", "pt 6 lc 'orange'") + ", " +
      errors("lse_unique", "LSE, merged within " + example::short_number(o.merge) + "/sqrt(beta)",
             "pt 5 lc 'blue'") +
      ", " + errors("lse_distinct", "LSE, distinct end points (1e-4)", "pt 4 lc 'skyblue'") + ", " +
      std::to_string(o.patterns) + " with lines dt 2 lc 'black' title 'M'" +
      "\nset title 'Stored patterns that are still LSR minima'\nunset logscale y\n"
      "set xlabel 'beta (mean over seeds at each index)'\nset ylabel 'count'\nset yrange [0:" +
      example::short_number(1.1 * o.patterns) + "]\nplot " +
      errors("lsr_kept", "LSR stored patterns kept", "pt 7 lc 'red'") + ", " +
      std::to_string(o.patterns) + " with lines dt 2 lc 'black' title 'M'\nunset multiplot\n";
  draw(script, csv_path, png);
}

// ---------------------------------------------------------------------------------------------
// grid (Theorem 2, Proposition 3)

struct grid_series {
  int dim = 2;
  std::vector<int> sizes;
  std::vector<double> radii;  // in grid spacings, before the offset
};

std::vector<double> parse_list(const std::string& text, const std::string& spec) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    double v = nan;
    if (!CLI::detail::lexical_cast(item, v) || !std::isfinite(v))
      throw engram::invalid_argument("--series " + spec + ": '" + item + "' is not a number");
    out.push_back(v);
  }
  if (out.empty()) throw engram::invalid_argument("--series " + spec + ": an empty list");
  return out;
}

// "d:n1,n2,...:r1,r2,..."
grid_series parse_series(const std::string& spec) {
  const auto a = spec.find(':'), b = spec.find(':', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos)
    throw engram::invalid_argument("--series " + spec +
                                   ": expected DIM:N1,N2,...:R1,R2,... (for example "
                                   "2:4,6,8:1.5,2, radii in grid spacings)");
  grid_series g;
  const auto dims = parse_list(spec.substr(0, a), spec);
  const auto sizes = parse_list(spec.substr(a + 1, b - a - 1), spec);
  g.radii = parse_list(spec.substr(b + 1), spec);
  if (dims.size() != 1 || dims[0] != std::floor(dims[0]) || dims[0] < 1 || dims[0] > 6)
    throw engram::invalid_argument("--series " + spec +
                                   ": the dimension must be one integer "
                                   "from 1 to 6");
  g.dim = int(dims[0]);
  for (double n : sizes) {
    if (n != std::floor(n) || n < 2)
      throw engram::invalid_argument("--series " + spec + ": grid size " +
                                     example::short_number(n) + " must be an integer >= 2");
    if (std::pow(n, g.dim) > 20000)
      throw engram::invalid_argument("--series " + spec + ": " + example::short_number(n) + "^" +
                                     std::to_string(g.dim) + " = " +
                                     example::short_number(std::pow(n, g.dim)) +
                                     " patterns is above the limit of 20000");
    g.sizes.push_back(int(n));
  }
  for (double r : g.radii)
    if (!(r > 0))
      throw engram::invalid_argument("--series " + spec + ": radius " + example::short_number(r) +
                                     " (in grid spacings) must be > 0");
  return g;
}

// The n^d cell centres (m + 1/2)/n of [0,1]^d, m = 0 .. n-1 in each coordinate.
MatrixXd grid_patterns(int d, int n) {
  Index m = 1;
  for (int i = 0; i < d; ++i) m *= n;
  MatrixXd out(d, m);
  for (Index j = 0; j < m; ++j) {
    Index rest = j;
    for (int i = 0; i < d; ++i, rest /= n) out(i, j) = (double(rest % n) + 0.5) / n;
  }
  return out;
}

// Is rho^2 (in spacings^2) a squared distance between two points of the integer lattice Z^d?
bool lattice_distance(int d, double rho) {
  const double r2 = rho * rho, nearest = std::round(r2);
  if (std::abs(r2 - nearest) > 1e-9 * std::max(1.0, r2)) return false;
  // Is `nearest` a sum of d squares?
  const auto sums = [&](auto&& self, int left, long target) -> bool {
    if (left == 0) return target == 0;
    for (long k = 0; k * k <= target; ++k)
      if (self(self, left - 1, target - k * k)) return true;
    return false;
  };
  return sums(sums, d, long(nearest));
}

struct basin_report {
  double rstar_min = nan, rstar_median = nan;
  Index violations = 0;          // r* above the exact radius where B(x) stays B(x*): none expected
  Index checked = 0, exact = 0;  // Algorithm 1 from points in the r*-ball
  double gd_error = nan;         // largest ||x - x*|| after fixed-step gradient descent
};

// Theorem 2 eq. 4 for every emergent minimum of `census`, and the retrieval check on a few.
basin_report basins(const engram::minima_census<double>& census,
                    const engram::lsr_energy<double>& lsr, const MatrixXd& patterns, double beta,
                    int check_minima, int check_points, std::uint64_t seed) {
  basin_report rep;
  const double R2 = 2.0 / beta, R = std::sqrt(R2);
  std::vector<double> rstar;
  std::vector<Index> emergent;
  std::vector<double> emergent_rstar;
  for (Index i = 0; i < census.count(); ++i) {
    if (!census.emergent(i)) continue;
    const auto& support = census.supports[std::size_t(i)];
    double delta = std::numeric_limits<double>::infinity(), gamma = delta, dmax2 = 0, tight = delta;
    std::size_t k = 0;
    for (Index mu = 0; mu < patterns.cols(); ++mu) {
      const double d2 = (census.minima.col(i) - patterns.col(mu)).squaredNorm();
      dmax2 = std::max(dmax2, d2);
      const bool inside = k < support.size() && support[k] == mu;
      if (inside) {
        ++k;
        delta = std::min(delta, R2 - d2);
        tight = std::min(tight, R - std::sqrt(d2));
      } else {
        gamma = std::min(gamma, d2 - R2);
        tight = std::min(tight, std::sqrt(d2) - R);
      }
    }
    // sqrt(D^2 + m) - D, written without the cancellation.
    const double m = std::min(delta, gamma), dmax = std::sqrt(dmax2);
    const double r = m / (std::sqrt(dmax2 + m) + dmax);
    rep.violations += r > tight;
    rstar.push_back(r);
    emergent.push_back(i);
    emergent_rstar.push_back(r);
  }
  if (rstar.empty()) return rep;
  rep.rstar_min = *std::min_element(rstar.begin(), rstar.end());
  rep.rstar_median = median(rstar);

  // A few emergent minima, evenly spread over the census; points uniform in each r*-ball.
  const engram::philox_source rng(seed);
  const int d = int(patterns.rows());
  const int chosen = int(std::min<std::size_t>(std::size_t(check_minima), emergent.size()));
  rep.gd_error = 0;
  for (int c = 0; c < chosen; ++c) {
    const std::size_t pick = emergent.size() * std::size_t(c) / std::size_t(chosen);
    const Index i = emergent[pick];
    const double r = emergent_rstar[pick];
    MatrixXd points(d, check_points);
    rng.fill_normal(points, 2 * std::uint64_t(c));
    points.colwise().normalize();
    VectorXd u(check_points);
    rng.fill_uniform(u, 2 * std::uint64_t(c) + 1);
    for (int j = 0; j < check_points; ++j)
      points.col(j) =
          census.minima.col(i) + r * (1 - 1e-9) * std::pow(u(j), 1.0 / d) * points.col(j);
    const auto alg1 = engram::retrieve(lsr, points, engram::centroid_iteration<double>{},
                                       engram::stop::fixed_point() || engram::stop::after(100));
    // Fixed-step descent with half of Theorem 1's step at x*: eta = S(x*) / (2 |B(x*)|),
    // S = exp(-beta E) the ReLU sum (eps = 0); inside the ball the gradient is
    // |B| (x - x*) / S(x), so each step at least halves the distance.
    const double eta =
        0.5 * std::exp(-beta * census.energies(i)) / double(census.supports[std::size_t(i)].size());
    const auto gd = engram::retrieve(lsr, points, engram::gradient_descent<double>{.step = eta},
                                     engram::stop::fixed_point() || engram::stop::after(2000));
    for (int j = 0; j < check_points; ++j) {
      ++rep.checked;
      rep.exact += (alg1.states.col(j).array() == census.minima.col(i).array()).all();
      rep.gd_error = std::max(rep.gd_error, (gd.states.col(j) - census.minima.col(i)).norm());
    }
  }
  return rep;
}

struct grid_options {
  std::vector<std::string> series = {"2:4,6,8,10,12:1.5,2", "3:3,4:1,1.2"};
  double offset = 0.03, max_subsets = 1e14;
  int check_minima = 5, check_points = 8;
  std::uint64_t seed = 1;
  bool full = false, uniform = true, quiet = false;
  std::string out = "lsr_figures_out";
};

struct grid_row {
  int series = 0, dim = 0, n = 0;
  Index patterns = 0;
  double rho_nominal = nan, rho = nan, beta = nan, radius = nan, lambda = nan, lambda_exact = nan,
         minima = nan, emergent = nan, kept = nan, prop3 = nan, ratio = nan, prop3_exact = nan,
         ratio_exact = nan, uniform_minima = nan, uniform_emergent = nan, uniform_kept = nan,
         eq5_exponent = nan, seconds = nan;
  basin_report grid_basins, uniform_basins;
};

// Prop. 3's (M^{1/d} - L^{1/d} + 1)^d for 1 < L <= M, else nan.
double prop3(double m, double lambda, int d) {
  if (!(lambda > 1 && lambda <= m)) return nan;
  return std::pow(std::pow(m, 1.0 / d) - std::pow(lambda, 1.0 / d) + 1, d);
}

void run_grid(const grid_options& o) {
  if (!(o.offset > -0.5 && o.offset < 0.5))
    throw engram::invalid_argument("--offset " + example::short_number(o.offset) +
                                   " must lie in (-0.5, 0.5)");
  std::vector<grid_series> all;
  for (const auto& spec : o.series) all.push_back(parse_series(spec));
  for (const auto& g : all)
    for (double nominal : g.radii)
      if (lattice_distance(g.dim, nominal * (1 + o.offset)))
        throw engram::invalid_argument(
            "radius " + example::short_number(nominal) + " x (1 + " +
            example::short_number(o.offset) +
            ") spacings is a distance between grid points in d = " + std::to_string(g.dim) +
            ": memories would sit exactly on support edges (the degenerate tie); choose an "
            "--offset of a few percent");
  std::printf(
      "support radius = nominal x %.4g grid spacings (offset %+g%% so that no memory "
      "sits exactly on a support edge); Prop. 3 with V = 1\n",
      1 + o.offset, 100 * o.offset);
  std::printf(
      "%2s %3s %6s %5s %9s | %7s %7s %5s | %7s %6s %6s %6s %6s | %9s | %7s %7s %7s %9s "
      "| %6s\n",
      "d", "n", "M", "rho", "beta", "minima", "emerg", "kept", "lambda", "lam_ex", "prop3", "ratio",
      "ratio_ex", "r* min", "uniform", "emerg", "eq5 exp", "r* min", "sec");
  std::fflush(stdout);

  // The grids done, shown between the long calls; each enumeration shows its own line while it
  // runs (the grids line is cleared first: the two share a row).
  example::progress_line line("grid", o.quiet);
  long total = 0, done = 0;
  for (const auto& g : all) total += long(g.radii.size() * g.sizes.size());
  std::vector<grid_row> rows;
  for (std::size_t si = 0; si < all.size(); ++si) {
    const auto& g = all[si];
    for (std::size_t ri = 0; ri < g.radii.size(); ++ri) {
      for (int n : g.sizes) {
        const auto t0 = std::chrono::steady_clock::now();
        grid_row row;
        row.series = int(si * 100 + ri);  // renumbered 1, 2, ... below
        row.dim = g.dim;
        row.n = n;
        row.rho_nominal = g.radii[ri];
        row.rho = g.radii[ri] * (1 + o.offset);
        const MatrixXd patterns = grid_patterns(g.dim, n);
        row.patterns = patterns.cols();
        row.radius = row.rho / n;
        row.beta = 2.0 / (row.radius * row.radius);
        const double m = double(row.patterns);
        row.lambda = m * std::pow(8.0 / row.beta, g.dim / 2.0);  // = (2 rho)^d
        row.prop3 = prop3(m, row.lambda, g.dim);

        // |B(x)| at a cell centre with the whole ball inside the grid: the middle of an odd
        // grid of the same spacing, 2 ceil(rho) + 1 points a side.
        {
          const int side = 2 * int(std::ceil(row.rho)) + 1;
          MatrixXd aux = grid_patterns(g.dim, side) * (double(side) / n);
          engram::dense_memory<double> aux_memory(aux);
          engram::lsr_energy<double> aux_lsr(aux_memory, row.beta);
          const VectorXd centre = VectorXd::Constant(g.dim, (side / 2 + 0.5) / n);
          row.lambda_exact = double(aux_lsr.supports(centre).front().size());
          row.prop3_exact = prop3(m, row.lambda_exact, g.dim);
        }

        const std::string at = "d " + std::to_string(g.dim) + ", n " + std::to_string(n) +
                               ", rho " + example::short_number(row.rho) + " (grid " +
                               std::to_string(done + 1) + " of " + std::to_string(total) + ")";
        engram::dense_memory<double> memory(patterns);
        engram::lsr_energy<double> lsr(memory, row.beta);
        line.clear();
        try {
          example::progress_line enumeration(at + ", LSR minima of the grid", o.quiet);
          const auto census = engram::enumerate_lsr_minima(
              lsr, {.max_subsets = o.max_subsets, .progress = enumeration.work("roots")});
          enumeration.clear();
          row.minima = double(census.count());
          row.emergent = double(census.emergent_count());
          row.kept = double(census.retrievable_count());
          row.ratio = row.emergent / row.prop3;
          row.ratio_exact = row.emergent / row.prop3_exact;
          row.grid_basins = basins(census, lsr, patterns, row.beta, o.check_minima, o.check_points,
                                   derived_seed(o.seed, 7));
        } catch (const engram::invalid_argument& e) {
          std::printf("d %d, n %d, rho %g: grid enumeration skipped: %s\n", g.dim, n, row.rho,
                      e.what());
          std::fflush(stdout);
        }

        // Eq. 5's exponent, V = 1: M V_d (2/beta)^{d/2} log(e / (V_d (2/beta)^{d/2})).
        const double ball = unit_ball_volume(g.dim) * std::pow(2.0 / row.beta, g.dim / 2.0);
        row.eq5_exponent = m * ball * std::log(std::numbers::e / ball);
        if (o.uniform) {
          // The same M and beta with patterns uniform in the cube (Theorem 2's setting).
          const engram::philox_source rng(
              derived_seed(o.seed, std::uint64_t(1000 * g.dim + 10 * n) + ri));
          MatrixXd random(g.dim, row.patterns);
          rng.fill_uniform(random, 0);
          engram::dense_memory<double> random_memory(random);
          engram::lsr_energy<double> random_lsr(random_memory, row.beta);
          try {
            example::progress_line enumeration(at + ", LSR minima of uniform patterns", o.quiet);
            const auto census = engram::enumerate_lsr_minima(
                random_lsr, {.max_subsets = o.max_subsets, .progress = enumeration.work("roots")});
            enumeration.clear();
            row.uniform_minima = double(census.count());
            row.uniform_emergent = double(census.emergent_count());
            row.uniform_kept = double(census.retrievable_count());
            row.uniform_basins = basins(census, random_lsr, random, row.beta, o.check_minima,
                                        o.check_points, derived_seed(o.seed, 8));
          } catch (const engram::invalid_argument& e) {
            std::printf("d %d, n %d, rho %g: uniform enumeration skipped: %s\n", g.dim, n, row.rho,
                        e.what());
            std::fflush(stdout);
          }
        }
        row.seconds = seconds_since(t0);
        std::printf(
            "%2d %3d %6ld %5.3g %9.4g | %7.0f %7.0f %5.0f | %7.2f %6.0f %6.1f %6.2f "
            "%6.2f | %9.3g | %7.0f %7.0f %7.1f %9.3g | %6.2f\n",
            g.dim, n, long(row.patterns), row.rho, row.beta, row.minima, row.emergent, row.kept,
            row.lambda, row.lambda_exact, row.prop3, row.ratio, row.ratio_exact,
            row.grid_basins.rstar_min, row.uniform_minima, row.uniform_emergent, row.eq5_exponent,
            row.uniform_basins.rstar_min, row.seconds);
        if (row.grid_basins.rstar_min <= 1e-9 * row.radius)
          std::printf(
              "  note: a memory lies on the support edge of an emergent minimum (r* = "
              "%.3g): the degenerate tie of Algorithm 3; choose another --offset\n",
              row.grid_basins.rstar_min);
        for (const auto* b : {&row.grid_basins, &row.uniform_basins})
          if (b->checked > 0 && (b->exact < b->checked || b->violations > 0 || b->gd_error > 1e-12))
            std::printf(
                "  note (%s): Algorithm 1 exact in %ld of %ld, gradient descent within "
                "%.2g, r* above the exact basin at %ld minima\n",
                b == &row.grid_basins ? "grid" : "uniform", long(b->exact), long(b->checked),
                b->gd_error, long(b->violations));
        std::fflush(stdout);
        rows.push_back(row);
        line.count(++done, total, "grids");
      }
    }
  }
  line.clear();
  // Number the series 1, 2, ... in order of appearance.
  {
    std::vector<int> seen;
    for (auto& r : rows) {
      auto it = std::find(seen.begin(), seen.end(), r.series);
      if (it == seen.end()) seen.push_back(r.series), it = seen.end() - 1;
      r.series = int(it - seen.begin()) + 1;
    }
  }

  Index checked = 0, exact = 0, violations = 0;
  double gd_error = 0;
  for (const auto& r : rows)
    for (const auto* b : {&r.grid_basins, &r.uniform_basins}) {
      checked += b->checked, exact += b->exact, violations += b->violations;
      if (b->checked > 0) gd_error = std::max(gd_error, b->gd_error);
    }
  std::printf(
      "Theorem 2 basins: from %ld points inside r*-balls of emergent minima, Algorithm 1 "
      "returned the minimum exactly %ld times; fixed-step gradient descent ended within "
      "%.2g of it; r* exceeded the exact support-preserving radius at %ld minima\n",
      long(checked), long(exact), gd_error, long(violations));

  const std::filesystem::path dir(o.out);
  const auto csv_path = dir / "grid.csv";
  write_csv(
      csv_path,
      "series,d,n,M,rho_nominal,rho,beta,radius,lambda,lambda_exact,minima,emergent,kept,prop3,"
      "ratio,prop3_exact,ratio_exact,rstar_min,rstar_median,uniform_minima,uniform_emergent,"
      "uniform_kept,eq5_exponent,log_uniform_minima,uniform_rstar_min,uniform_rstar_median,"
      "basin_checks,basin_exact,gd_error,seconds",
      [&](std::ostream& csv) {
        for (const auto& r : rows) {
          const Index checks = r.grid_basins.checked + r.uniform_basins.checked;
          const Index hits = r.grid_basins.exact + r.uniform_basins.exact;
          double err = 0;
          for (const auto* b : {&r.grid_basins, &r.uniform_basins})
            if (b->checked > 0) err = std::max(err, b->gd_error);
          csv << r.series << ',' << r.dim << ',' << r.n << ',' << r.patterns << ',' << r.rho_nominal
              << ',' << r.rho << ',' << r.beta << ',' << r.radius << ',' << r.lambda << ','
              << r.lambda_exact << ',' << r.minima << ',' << r.emergent << ',' << r.kept << ','
              << r.prop3 << ',' << r.ratio << ',' << r.prop3_exact << ',' << r.ratio_exact << ','
              << r.grid_basins.rstar_min << ',' << r.grid_basins.rstar_median << ','
              << r.uniform_minima << ',' << r.uniform_emergent << ',' << r.uniform_kept << ','
              << r.eq5_exponent << ',' << std::log(r.uniform_minima) << ','
              << r.uniform_basins.rstar_min << ',' << r.uniform_basins.rstar_median << ',' << checks
              << ',' << hits << ',' << (checks > 0 ? err : nan) << ',' << r.seconds << '\n';
        }
      });

  // Columns: 1 series, 4 M, 12 emergent, 14 prop3, 15 ratio, 17 ratio_exact, 21 uniform
  // emergent, 23 eq5 exponent.
  const auto png = dir / "grid.png";
  const std::string data = plot::quoted(csv_path.string());
  std::vector<std::pair<int, std::string>> series;  // number, title
  std::vector<double> scale;                        // emergent / prop3 at the largest M
  for (const auto& r : rows) {
    if (series.empty() || series.back().first != r.series) {
      series.push_back({r.series, "d = " + std::to_string(r.dim) +
                                      ", r = " + example::short_number(r.rho_nominal) +
                                      " spacings " + (o.offset >= 0 ? "+" : "") +
                                      example::short_number(100 * o.offset) + "%"});
      scale.push_back(nan);
    }
    if (std::isfinite(r.ratio)) scale.back() = r.ratio;
  }
  double m_min = std::numeric_limits<double>::infinity(), m_max = 0;
  for (const auto& r : rows)
    m_min = std::min(m_min, double(r.patterns)), m_max = std::max(m_max, double(r.patterns));
  std::vector<double> ms;
  for (const auto& r : rows) ms.push_back(double(r.patterns));
  std::sort(ms.begin(), ms.end());
  ms.erase(std::unique(ms.begin(), ms.end()), ms.end());
  std::string xtics = "set xtics (";
  for (std::size_t k = 0; k < ms.size(); ++k)
    xtics += (k ? ", " : "") + example::short_number(ms[k]);
  xtics += ")\n";
  const char* colours[] = {"red", "blue", "dark-green", "orange", "purple", "brown", "black"};
  const auto colour = [&](std::size_t k) { return std::string(colours[k % 7]); };
  std::string script =
      "set terminal pngcairo noenhanced size 1000,1250 font 'sans,10'\nset output " +
      plot::quoted(png.string()) +
      "\nset datafile separator ','\nset datafile missing 'nan'\nset grid\nset key outside "
      "right\nset logscale x\nset xrange [" +
      example::short_number(m_min / 1.2) + ":" + example::short_number(m_max * 1.2) + "]\n" +
      xtics +
      "set multiplot layout 3,1\n"
      "set title 'Grid patterns: emergent LSR minima (points), c x Prop. 3 (M^(1/d) - "
      "lambda^(1/d) + 1)^d (lines, c at the largest M)'\nset logscale y\n"
      "set ylabel 'emergent minima'\nplot ";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const std::string s = std::to_string(series[k].first);
    script += std::string(k ? ", " : "") + data + " skip 1 using ($1==" + s + "?$4:1/0):12" +
              " with points pt 7 lc '" + colour(k) + "' title " + plot::quoted(series[k].second);
    if (std::isfinite(scale[k]))
      script += ", " + data + " skip 1 using ($1==" + s + "?$4:1/0):($14*" +
                example::short_number(scale[k]) + ") with lines lc '" + colour(k) + "' notitle";
  }
  script +=
      "\nset title 'Emergent / Prop. 3 formula, lambda = M (8/beta)^(d/2) (solid) or |B(x)| at "
      "a cell centre (dashed)'\nunset logscale y\nset ylabel 'ratio'\nplot ";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const std::string s = std::to_string(series[k].first);
    script += std::string(k ? ", " : "") + data + " skip 1 using ($1==" + s +
              "?$4:1/0):15 with linespoints pt 7 lc '" + colour(k) + "' title " +
              plot::quoted(series[k].second) + ", " + data + " skip 1 using ($1==" + s +
              "?$4:1/0):17 with linespoints pt 6 dt 2 lc '" + colour(k) + "' notitle";
  }
  script +=
      "\nset title 'Uniform patterns, same M and beta: log(emergent minima) (points), eq. 5 "
      "exponent (dashed)'\nset xlabel 'M (stored patterns)'\nset ylabel 'log count'\nplot ";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const std::string s = std::to_string(series[k].first);
    script += std::string(k ? ", " : "") + data + " skip 1 using ($1==" + s +
              "?$4:1/0):(log($21)) with linespoints pt 7 lc '" + colour(k) + "' title " +
              plot::quoted(series[k].second) + ", " + data + " skip 1 using ($1==" + s +
              "?$4:1/0):23 with lines dt 2 lc '" + colour(k) + "' notitle";
  }
  script += "\nunset multiplot\n";
  draw(script, csv_path, png);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Experiments of seed 002 (LSR): log-likelihood of memories (sec. 4.2, Fig. 3 "
      "right, Figs. 6-7) and emergent minima on grids (Theorem 2, Prop. 3)"};
  example::one_line_errors(app, "lsr_figures");
  app.require_subcommand(1);

  likelihood_options lik;
  CLI::App* likelihood =
      app.add_subcommand("likelihood",
                         "log-likelihood and number of LSR and LSE memories under a known Gaussian "
                         "mixture (Fig. 3 right)");
  likelihood->add_option("-d,--dim", lik.dim, "dimension d")->check(CLI::Range(1, 64));
  likelihood->add_option("-k,--components", lik.components, "Gaussians in the mixture")
      ->check(CLI::Range(1, 1000));
  likelihood->add_option("--sigma", lik.sigma, "standard deviation of each Gaussian")
      ->check(example::positive_finite);
  likelihood->add_option("-m,--stored", lik.patterns, "stored patterns M drawn from p")
      ->check(CLI::Range(2, 2000));
  likelihood
      ->add_option("--beta-points", lik.beta_points,
                   "number of beta values, geometric over [2/d, 2/r_min^2]")
      ->check(CLI::Range(2, 200));
  likelihood->add_option("--seeds", lik.seeds, "draws of patterns and starts")
      ->check(CLI::Range(1, 100));
  likelihood->add_option("--starts", lik.starts, "descent starts per stored pattern")
      ->check(CLI::Range(1, 100000));
  likelihood
      ->add_option("--shell", lik.shell,
                   "shell width delta as a fraction of 2/beta (the squared radius)")
      ->check(in_open_closed(0, 1));
  likelihood
      ->add_option("--max-steps", lik.max_steps,
                   "most LSE descent steps T (the length of the cosine rate schedule)")
      ->check(CLI::Range(1L, 10000000L));
  // x <- x - eta grad E(x) = (1 - eta) x + eta (softmax mean): for eta <= 1 a step toward the
  // mean that never raises the LSE energy.
  likelihood->add_option("--rate", lik.rate, "LSE initial learning rate")
      ->check(in_open_closed(0, 1));
  likelihood->add_option("--rate-end", lik.rate_end, "LSE final learning rate (cosine decay)")
      ->check(in_open_closed(0, 1));
  likelihood
      ->add_option("--gradient-tol", lik.gradient_tol,
                   "an LSE descent has converged when ||grad E|| falls below this")
      ->check(example::positive_finite);
  likelihood
      ->add_option("--merge", lik.merge,
                   "LSE end points closer than this / sqrt(beta) count as one memory (App. "
                   "C.3.3: 2)")
      ->check(example::positive_finite);
  likelihood
      ->add_option("--max-subsets", lik.max_subsets,
                   "skip LSR enumerations with more candidate sets than this")
      ->check(example::positive_finite);
  likelihood->add_option("--seed", lik.seed, "seed of p, the patterns and the starts")
      ->check(example::whole_number);
  likelihood->add_flag("--full", lik.full,
                       "the paper's sizes: M = 100, 15 betas, 5 seeds, 500 starts per pattern, "
                       "13000 steps at 0.01 -> 1e-4, max subsets 1e9 (flags given as well keep "
                       "their values)");
  likelihood->add_flag("--quiet", lik.quiet, "no progress line on stderr");
  likelihood->add_option("--out", lik.out,
                         "folder for likelihood.csv, likelihood_seeds.csv, likelihood.png");

  grid_options grd;
  CLI::App* grid = app.add_subcommand(
      "grid",
      "exact LSR minima of grid patterns against Prop. 3, uniform patterns against "
      "eq. 5, Theorem 2's basins");
  grid->add_option("--series", grd.series,
                   "DIM:N1,N2,...:R1,R2,... grids of N^DIM cell centres, support radii in grid "
                   "spacings (before --offset)");
  grid->add_option("--offset", grd.offset,
                   "relative offset of the radii from the nominal spacings, keeping memories off "
                   "support edges");
  grid->add_option("--max-subsets", grd.max_subsets,
                   "skip enumerations whose bound on candidate sets exceeds this (the bound "
                   "2^neighbours is loose on a grid)")
      ->check(example::positive_finite);
  grid->add_option("--check-minima", grd.check_minima,
                   "emergent minima per enumeration whose r*-ball is checked")
      ->check(CLI::Range(0, 10000));
  grid->add_option("--check-points", grd.check_points, "points per checked r*-ball")
      ->check(CLI::Range(1, 10000));
  grid->add_flag("!--no-uniform", grd.uniform, "skip the uniform random patterns");
  grid->add_option("--seed", grd.seed, "seed of the uniform patterns and the check points")
      ->check(example::whole_number);
  grid->add_flag("--full", grd.full,
                 "larger grids: d = 2 n 4 ... 32; d = 3 n 3 ... 8 (r = 1), 3 ... 6 (r = 1.2) "
                 "(flags given as well keep their values)");
  grid->add_flag("--quiet", grd.quiet, "no progress line on stderr");
  grid->add_option("--out", grd.out, "folder for grid.csv and grid.png");

  CLI11_PARSE(app, argc, argv);

  try {
    example::prepare_out(*likelihood ? lik.out : grd.out);
    if (*likelihood) {
      if (lik.full) {
        if (likelihood->count("--stored") == 0) lik.patterns = 100;
        if (likelihood->count("--beta-points") == 0) lik.beta_points = 15;
        if (likelihood->count("--seeds") == 0) lik.seeds = 5;
        if (likelihood->count("--starts") == 0) lik.starts = 500;
        if (likelihood->count("--max-steps") == 0) lik.max_steps = 13000;
        if (likelihood->count("--rate") == 0) lik.rate = 0.01;
        if (likelihood->count("--rate-end") == 0) lik.rate_end = 1e-4;
        if (likelihood->count("--max-subsets") == 0) lik.max_subsets = 1e9;
      }
      run_likelihood(lik);
    } else {
      if (grd.full && grid->count("--series") == 0)
        grd.series = {"2:4,6,8,10,12,16,20,24,32:1.5,2", "3:3,4,5,6,8:1", "3:3,4,5,6:1.2"};
      run_grid(grd);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lsr_figures: %s\n", e.what());
    return 1;
  }
  return 0;
}
