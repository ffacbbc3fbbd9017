// A progress line on stderr for the examples' long work, fed by the library's progress
// callbacks: retrieval_progress (steps, columns converged) and work_progress (patterns encoded,
// roots enumerated), or the example's own count (learning epochs, decimation steps). It shows
// what is done, the rate and the time left, redraws at most five times a second, and clears
// itself when the work ends. Silent under --quiet and when stderr is not a terminal (a log
// file or a pipe gets no carriage returns). Lines share the one line of the terminal: a new
// one pads over whatever an earlier one left there.
#pragma once

#include <engram/engram.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>

namespace example {

class progress_line {
 public:
  /// `label` starts the line ("encoding", "retrieval"); `quiet` silences it.
  progress_line(std::string label, bool quiet)
      : label_(std::move(label)), shown_(!quiet && isatty(STDERR_FILENO) == 1) {}
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;
  ~progress_line() { clear(); }

  bool shown() const { return shown_; }

  /// `done` of `total` `unit` ("patterns", "epochs"): the rate and the time left follow.
  void count(engram::index done, engram::index total, const char* unit) {
    if (!due(done >= total)) return;
    const double seconds = elapsed();
    const double rate = seconds > 0 ? double(done) / seconds : 0;
    std::string text = label_ + ": " + std::to_string(done) + " of " + std::to_string(total) + " " +
                       unit + ", " + per_second(rate, unit);
    if (rate > 0 && done < total) text += ", " + duration(double(total - done) / rate) + " left";
    draw(text);
  }

  /// A retrieval's report: steps taken, columns stopped (converged, or halted by the step
  /// limit) and, when `max_steps` bounds the descent, the most time it can still take.
  void steps(const engram::retrieval_progress& p, engram::index max_steps = 0) {
    if (!due(false)) return;
    const double seconds = elapsed();
    const double rate = seconds > 0 ? double(p.step) / seconds : 0;
    std::string text = label_ + ": step " + std::to_string(p.step) +
                       (max_steps > 0 ? " of at most " + std::to_string(max_steps) : "") + ", " +
                       std::to_string(p.batch - p.active) + " of " + std::to_string(p.batch) +
                       " stopped, " + per_second(rate, "steps");
    if (rate > 0 && max_steps > p.step && p.active > 0)
      text += ", at most " + duration(double(max_steps - p.step) / rate) + " left";
    draw(text);
  }

  /// The callbacks the library takes, bound to this line (which must outlive the call).
  engram::progress_callback work(const char* unit) {
    return [this, unit](const engram::work_progress& p) { count(p.done, p.total, unit); };
  }
  std::function<void(const engram::retrieval_progress&)> retrieval(engram::index max_steps = 0) {
    return [this, max_steps](const engram::retrieval_progress& p) { steps(p, max_steps); };
  }

  /// Wipes the line, so that the next output starts on a clean line.
  void clear() {
    if (!shown_ || !drawn_) return;
    drawn_ = false;
    if (on_screen == 0) return;
    std::fprintf(stderr, "\r%*s\r", int(on_screen), "");
    std::fflush(stderr);
    on_screen = 0;
  }

 private:
  using clock = std::chrono::steady_clock;

  // Redraws at most every 0.2 s; the last report (`final`) always, so the line ends complete.
  bool due(bool final) {
    if (!shown_) return false;
    const auto now = clock::now();
    if (!final && drawn_ && now - last_ < std::chrono::milliseconds(200)) return false;
    last_ = now;
    return true;
  }
  double elapsed() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

  void draw(const std::string& text) {
    // Pads over a longer line left by this or another progress line.
    std::fprintf(stderr, "\r%-*s", int(std::max(on_screen, text.size())), text.c_str());
    std::fflush(stderr);
    on_screen = text.size();
    drawn_ = true;
  }

  static std::string per_second(double rate, const char* unit) {
    char text[64];
    std::snprintf(text, sizeof text, rate >= 10 ? "%.0f %s/s" : "%.2g %s/s", rate, unit);
    return text;
  }
  static std::string duration(double seconds) {
    char text[32];
    if (seconds < 90)
      std::snprintf(text, sizeof text, "%.0f s", std::ceil(seconds));
    else if (seconds < 5400)
      std::snprintf(text, sizeof text, "%.0f min", std::ceil(seconds / 60));
    else
      std::snprintf(text, sizeof text, "%.1f h", seconds / 3600);
    return text;
  }

  std::string label_;
  bool shown_;
  clock::time_point start_ = clock::now(), last_{};
  bool drawn_ = false;
  // Characters of progress text on the terminal's line now, whichever line drew them.
  static inline std::size_t on_screen = 0;
};

}  // namespace example
