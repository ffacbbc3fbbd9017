// The MPI side of engram/distributed: a communicator that turns the failures of a collective
// call into typed errors raised on every rank, and the collectives that combine partial states.
//
// Every collective call of engram/distributed runs in two rounds. The first agrees: each rank
// does its own part (validation, the local reduction) inside agree(), then one small
// reduction tells every rank whether any rank threw, and whether all ranks are in the same
// call with the same arguments; if not, every rank raises (the ranks that threw their own
// error, the others rank_failed with the first failing rank's message, or all of them
// collective_mismatch), so that no rank is left waiting in a collective the others skipped.
// Only then does the second round move data. Every wait polls with a deadline: a rank that
// never joins turns into collective_timeout on the others, not a hang.
//
// Partial states combine with a user-defined MPI operation that is not commutative, so MPI
// applies it in rank order (rank 0's memories first), as the partial states' own combine()
// would; the record layouts and the operation live here, the arithmetic in exp_partial::fold
// and sum_partial.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "engram/backend/exp_partial.hpp"
#include "engram/backend/sum_partial.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram::distributed {

/// The collective calls of engram/distributed, compared across ranks by agree().
enum class collective : std::int64_t {
  construct = 1,
  validate,
  evaluate,
  fixed_point,
  supports,
  add,
  remove,
  distribute,
  user,
};

inline const char* collective_name(collective c) {
  switch (c) {
    case collective::construct:
      return "construction";
    case collective::validate:
      return "validate";
    case collective::evaluate:
      return "evaluate";
    case collective::fixed_point:
      return "fixed_point_map";
    case collective::supports:
      return "supports";
    case collective::add:
      return "add";
    case collective::remove:
      return "remove";
    case collective::distribute:
      return "distribute";
    case collective::user:
      return "a user's collective";
  }
  return "an unknown collective";
}

namespace mpi_detail {

inline void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw distributed_error(
      detail::message(call, " failed: ", std::string(text, std::size_t(length))));
}

template <class Scalar>
MPI_Datatype scalar_type() {
  return std::is_same_v<Scalar, float> ? MPI_FLOAT : MPI_DOUBLE;
}

template <class T>
MPI_Datatype type_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> ||
                std::is_same_v<T, std::int64_t>);
  if constexpr (std::is_same_v<T, std::int64_t>)
    return MPI_INT64_T;
  else
    return scalar_type<T>();
}

// The record of one query column of an exp_partial: max, sum, then the D weighted sums.
// The operation's output is its right operand (MPI's inout, the higher ranks), as MPI asks.
template <class Scalar>
void combine_exp_records(void* in, void* inout, int* len, MPI_Datatype* type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  const index n = index(bytes) / index(sizeof(Scalar)), d = n - 2;
  const Scalar* l = static_cast<const Scalar*>(in);
  Scalar* r = static_cast<Scalar*>(inout);
  for (int k = 0; k < *len; ++k, l += n, r += n)
    exp_partial<Scalar>::fold(l[0], l[1], l + 2, r[0], r[1], r + 2, d, r[0], r[1], r + 2);
}

// The record of a sum_partial column: the count (an int64 in the first slots), value, slope,
// then the D weighted sums.
template <class Scalar>
constexpr index sum_header = index(sizeof(std::int64_t) / sizeof(Scalar)) + 2;

template <class Scalar>
void combine_sum_records(void* in, void* inout, int* len, MPI_Datatype* type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  const index n = index(bytes) / index(sizeof(Scalar)), h = sum_header<Scalar>;
  const Scalar* l = static_cast<const Scalar*>(in);
  Scalar* r = static_cast<Scalar*>(inout);
  for (int k = 0; k < *len; ++k, l += n, r += n) {
    std::int64_t cl = 0, cr = 0;
    std::memcpy(&cl, l, sizeof cl);
    std::memcpy(&cr, r, sizeof cr);
    cr += cl;
    std::memcpy(r, &cr, sizeof cr);
    for (index i = h - 2; i < n; ++i) r[i] = l[i] + r[i];
  }
}

// Plain sums, left operand first: the memory tensors of distributed memories.
template <class Scalar>
void sum_in_order(void* in, void* inout, int* len, MPI_Datatype* type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  const index n = index(*len) * index(bytes) / index(sizeof(Scalar));
  const Scalar* l = static_cast<const Scalar*>(in);
  Scalar* r = static_cast<Scalar*>(inout);
  for (index i = 0; i < n; ++i) r[i] = l[i] + r[i];
}

// A contiguous datatype of `n` scalars: one record.
class record_type {
 public:
  record_type(index n, MPI_Datatype scalar) {
    check(MPI_Type_contiguous(int(n), scalar, &type_), "MPI_Type_contiguous");
    check(MPI_Type_commit(&type_), "MPI_Type_commit");
  }
  ~record_type() { MPI_Type_free(&type_); }
  record_type(const record_type&) = delete;
  record_type& operator=(const record_type&) = delete;
  MPI_Datatype get() const { return type_; }

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
};

}  // namespace mpi_detail

/// engram's view of an MPI communicator: its own duplicate of the one given (engram's
/// messages never meet the user's), the timeout of every collective call, and the user-defined
/// operations that combine partial states. Constructing one is collective over `comm`.
/// MPI must be initialised (MPI_Init) before and finalised (MPI_Finalize) after its lifetime.
class communicator {
 public:
  using duration = std::chrono::milliseconds;

  /// Collective over `comm`. A rank that waits longer than `timeout` in one of engram's
  /// collective calls raises collective_timeout.
  explicit communicator(MPI_Comm comm, duration timeout = std::chrono::minutes(5))
      : timeout_(timeout) {
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    if (!initialised || finalised)
      throw invalid_argument(
          "MPI is not initialised: call MPI_Init before constructing an engram communicator, "
          "and MPI_Finalize only after it is destroyed");
    if (comm == MPI_COMM_NULL)
      throw invalid_argument("the communicator is MPI_COMM_NULL; it must hold at least one rank");
    check_timeout(timeout);
    int inter = 0;
    mpi_detail::check(MPI_Comm_test_inter(comm, &inter), "MPI_Comm_test_inter");
    if (inter)
      throw invalid_argument(
          "the communicator is an intercommunicator; engram combines over the ranks of one group "
          "(an intracommunicator)");
    // Nonblocking, so that ranks that never join time out here too.
    MPI_Request request;
    mpi_detail::check(MPI_Comm_idup(comm, &comm_, &request), "MPI_Comm_idup");
    MPI_Comm_rank(comm, &rank_);
    MPI_Comm_size(comm, &size_);
    wait(request, "the communicator's construction");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    // Not commutative (0): MPI applies them in rank order.
    const std::pair<MPI_User_function*, MPI_Op*> ops[] = {
        {&mpi_detail::combine_exp_records<float>, &exp_op_[0]},
        {&mpi_detail::combine_exp_records<double>, &exp_op_[1]},
        {&mpi_detail::combine_sum_records<float>, &sum_op_[0]},
        {&mpi_detail::combine_sum_records<double>, &sum_op_[1]},
        {&mpi_detail::sum_in_order<float>, &add_op_[0]},
        {&mpi_detail::sum_in_order<double>, &add_op_[1]}};
    for (const auto& [function, op] : ops)
      mpi_detail::check(MPI_Op_create(function, 0, op), "MPI_Op_create");
  }

  ~communicator() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (finalised) return;  // MPI has released everything already
    // A collective that timed out may still write into the staging buffer: never freed then.
    if (broken_) staging_.release();
    for (MPI_Op* op :
         {&exp_op_[0], &exp_op_[1], &sum_op_[0], &sum_op_[1], &add_op_[0], &add_op_[1]})
      if (*op != MPI_OP_NULL) MPI_Op_free(op);
    // A broken communicator may still have a collective pending that no rank will complete:
    // it is left to MPI_Finalize rather than freed under it.
    if (!broken_ && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }
  communicator(const communicator&) = delete;
  communicator& operator=(const communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// engram's duplicate of the communicator given at construction.
  MPI_Comm get() const { return comm_; }
  duration timeout() const { return timeout_; }
  void set_timeout(duration timeout) {
    check_timeout(timeout);
    timeout_ = timeout;
  }
  /// After a collective_timeout: every later collective call raises it again.
  bool broken() const { return broken_; }
  /// How many errors this communicator has raised on every rank alike (failures, mismatches,
  /// timeouts): an error that leaves a call without changing it was raised on this rank alone.
  std::uint64_t agreed_errors() const { return agreed_errors_; }

  /// The agreement round of a collective call: runs `local` on this rank, then checks that
  /// every rank is in the same call (`what`) with the same `key` and that none threw. If any
  /// did, every rank raises: the ranks that threw their own error, the others rank_failed
  /// naming the first of them and its message. Ranks in different calls, or with different
  /// keys, all raise collective_mismatch.
  template <class Local>
  void agree(collective what, std::int64_t key, Local&& local) {
    std::exception_ptr failure;
    try {
      local();
    } catch (...) {
      failure = std::current_exception();
    }
    agree_outcome(what, key, failure);
  }
  void agree(collective what, std::int64_t key) {
    agree(what, key, [] {});
  }

  /// The smallest and the largest of `value` over the ranks (an agreement-free collective:
  /// call it only right after agree()).
  std::pair<double, double> range(double value) {
    double v[2] = {value, -value};
    allreduce(v, 2, MPI_DOUBLE, MPI_MAX, "range");
    return {-v[1], v[0]};
  }
  std::pair<std::int64_t, std::int64_t> range(std::int64_t value) {
    std::int64_t v[2] = {value, -value};
    allreduce(v, 2, MPI_INT64_T, MPI_MAX, "range");
    return {-v[1], v[0]};
  }

  /// Combines every rank's partial state, in rank order, into every rank's `partial` (the
  /// same batch and dimension on every rank; agreed before). `buffer` is scratch kept by the
  /// caller.
  template <real_scalar Scalar>
  void combine(exp_partial<Scalar>& p, std::vector<Scalar>& buffer) {
    const index b = p.batch(), d = p.weighted.rows(), n = d + 2;
    buffer.resize(std::size_t(n * b));
    for (index j = 0; j < b; ++j) {
      Scalar* r = buffer.data() + j * n;
      r[0] = p.max(j);
      r[1] = p.sum(j);
      if (d > 0) std::copy_n(p.weighted.col(j).data(), d, r + 2);
    }
    const mpi_detail::record_type record(n, mpi_detail::scalar_type<Scalar>());
    allreduce(buffer.data(), b, record.get(), exp_op_[std::is_same_v<Scalar, double>],
              "combine (log-sum-exp partial states)");
    for (index j = 0; j < b; ++j) {
      const Scalar* r = buffer.data() + j * n;
      p.max(j) = r[0];
      p.sum(j) = r[1];
      if (d > 0) std::copy_n(r + 2, d, p.weighted.col(j).data());
    }
  }

  template <real_scalar Scalar>
  void combine(sum_partial<Scalar>& p, std::vector<Scalar>& buffer) {
    constexpr index h = mpi_detail::sum_header<Scalar>;
    const index b = p.batch(), d = p.weighted.rows(), n = d + h;
    buffer.resize(std::size_t(n * b));
    for (index j = 0; j < b; ++j) {
      Scalar* r = buffer.data() + j * n;
      const std::int64_t count = p.count(j);
      std::memcpy(r, &count, sizeof count);
      r[h - 2] = p.value(j);
      r[h - 1] = p.slope(j);
      if (d > 0) std::copy_n(p.weighted.col(j).data(), d, r + h);
    }
    const mpi_detail::record_type record(n, mpi_detail::scalar_type<Scalar>());
    allreduce(buffer.data(), b, record.get(), sum_op_[std::is_same_v<Scalar, double>],
              "combine (sum partial states)");
    for (index j = 0; j < b; ++j) {
      const Scalar* r = buffer.data() + j * n;
      std::int64_t count = 0;
      std::memcpy(&count, r, sizeof count);
      p.count(j) = index(count);
      p.value(j) = r[h - 2];
      p.slope(j) = r[h - 1];
      if (d > 0) std::copy_n(r + h, d, p.weighted.col(j).data());
    }
  }

  /// Sums `n` numbers over the ranks, rank 0's first, into every rank's `data`.
  template <real_scalar Scalar>
  void sum(Scalar* data, index n) {
    allreduce(data, n, mpi_detail::scalar_type<Scalar>(), add_op_[std::is_same_v<Scalar, double>],
              "sum");
  }

  /// Sums `n` counts over the ranks, exactly, into every rank's `data`.
  void sum_counts(std::int64_t* data, index n = 1) {
    allreduce(data, n, MPI_INT64_T, MPI_SUM, "sum");
  }

  /// Every rank's numbers, rank 0's first (their count may differ between ranks).
  std::vector<std::int64_t> all_gather(const std::vector<std::int64_t>& mine) {
    std::vector<std::int64_t> out;
    std::vector<index> counts;
    all_gather(mine.data(), index(mine.size()), out, counts);
    return out;
  }

  /// Every rank's `n` numbers at `mine` into `out`, rank 0's first (n may differ between
  /// ranks); `counts` gets each rank's n.
  template <class T>
  void all_gather(const T* mine, index n, std::vector<T>& out, std::vector<index>& counts) {
    require_usable("all_gather");
    const std::size_t p = std::size_t(size_);
    {
      auto* staged = reinterpret_cast<std::int64_t*>(stage((p + 1) * sizeof(std::int64_t)));
      staged[0] = n;
      MPI_Request request;
      mpi_detail::check(
          MPI_Iallgather(staged, 1, MPI_INT64_T, staged + 1, 1, MPI_INT64_T, comm_, &request),
          "MPI_Iallgather");
      wait(request, "all_gather");
      counts.assign(staged + 1, staged + 1 + p);
    }
    std::vector<int> sizes(p), offsets(p);
    index total = 0;
    for (std::size_t r = 0; r < p; ++r) {
      offsets[r] = int(total);
      sizes[r] = int(counts[r]);
      total += counts[r];
      check_count("all_gather", total);
    }
    std::byte* staged = stage(std::size_t(n + total) * sizeof(T));
    T* send = reinterpret_cast<T*>(staged);
    T* received = send + n;
    if (n > 0) std::memcpy(send, mine, std::size_t(n) * sizeof(T));
    MPI_Request request;
    mpi_detail::check(
        MPI_Iallgatherv(send, int(n), mpi_detail::type_of<T>(), received, sizes.data(),
                        offsets.data(), mpi_detail::type_of<T>(), comm_, &request),
        "MPI_Iallgatherv");
    wait(request, "all_gather");
    out.assign(received, received + total);
  }

  /// Rank `root`'s `n` numbers into every rank's `data`.
  template <class T>
  void broadcast(T* data, index n, int root) {
    static_assert(std::is_trivially_copyable_v<T>);
    require_usable("broadcast");
    const std::size_t bytes = std::size_t(n) * sizeof(T);
    check_count("broadcast", index(bytes));
    std::byte* staged = stage(bytes);
    if (rank_ == root && bytes > 0) std::memcpy(staged, data, bytes);
    MPI_Request request;
    mpi_detail::check(MPI_Ibcast(staged, int(bytes), MPI_BYTE, root, comm_, &request),
                      "MPI_Ibcast");
    wait(request, "broadcast");
    if (bytes > 0) std::memcpy(data, staged, bytes);
  }

  /// Rank `root`'s records of `record` numbers each, `counts[r]` of them to rank r (every rank
  /// passes the same counts), into each rank's `out` (room for its own count).
  template <real_scalar Scalar>
  void scatter(const Scalar* data, const std::vector<index>& counts, index record, Scalar* out,
               int root) {
    require_usable("scatter");
    std::vector<int> sizes(counts.size()), offsets(counts.size());
    index total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      offsets[r] = int(total);
      sizes[r] = int(counts[r]);
      total += counts[r];
      check_count("scatter", total);
    }
    const std::size_t record_bytes = std::size_t(record) * sizeof(Scalar);
    const std::size_t mine = std::size_t(counts[std::size_t(rank_)]) * record_bytes;
    const std::size_t sent = rank_ == root ? std::size_t(total) * record_bytes : 0;
    std::byte* staged = stage(sent + mine);
    if (sent > 0) std::memcpy(staged, data, sent);
    const mpi_detail::record_type type(record, mpi_detail::scalar_type<Scalar>());
    MPI_Request request;
    mpi_detail::check(MPI_Iscatterv(staged, sizes.data(), offsets.data(), type.get(), staged + sent,
                                    sizes[std::size_t(rank_)], type.get(), root, comm_, &request),
                      "MPI_Iscatterv");
    wait(request, "scatter");
    if (mine > 0) std::memcpy(out, staged + sent, mine);
  }

 private:
  static void check_timeout(duration timeout) {
    // A year: far beyond any collective, far inside what the clock's arithmetic can hold.
    constexpr auto longest = std::chrono::hours(24 * 365);
    if (timeout.count() <= 0 || timeout > longest)
      throw invalid_argument(detail::message("the timeout is ", timeout.count(),
                                             " ms; it must be at least 1 ms and at most a year (",
                                             duration(longest).count(), " ms)"));
  }

  static void check_count(const char* call, index count) {
    if (count > std::numeric_limits<int>::max())
      throw distributed_error(detail::message(
          call, ": ", count, " items exceed what one MPI call can move (2^31 - 1)"));
  }

  // What MPI reads and writes during a collective lives here, owned by the communicator and
  // never by the caller: a collective that timed out may still write into it, so a broken
  // communicator never frees it (see the destructor), and nothing is resized once broken.
  std::byte* stage(std::size_t bytes) {
    if (staging_->size() < bytes) staging_->resize(bytes);
    return staging_->data();
  }

  void require_usable(const char* call) const {
    if (broken_)
      throw collective_timeout(detail::message(
          call,
          ": this communicator timed out in an earlier collective call and cannot be used "
          "again; construct a new one"));
  }

  // Waits for `request` until the deadline. Each test drives MPI's progress, so the first
  // 10 ms poll with only a yield of the core between tests (free where no other thread wants
  // it; ranks may share cores); longer waits sleep 50 us between tests. Past the deadline the
  // communicator is broken.
  void wait(MPI_Request& request, const char* call) {
    using clock = std::chrono::steady_clock;
    const auto begin = clock::now();
    const auto deadline = begin + timeout_, patient = begin + std::chrono::milliseconds(10);
    for (;;) {
      int done = 0;
      mpi_detail::check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) return;
      if (clock::now() > deadline) {
        broken_ = true;
        ++agreed_errors_;
        throw collective_timeout(detail::message(
            call, ": rank ", rank_, " of ", size_, " waited ", timeout_.count(),
            " ms for the other ranks; a rank did not join this collective call (it failed "
            "outside engram, or the ranks took different paths)"));
      }
      if (clock::now() < patient)
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  // An allreduce. With a predefined operation on integers (exact in any order) one
  // MPI_Iallreduce; with engram's floating-point operations a reduction to rank 0 in rank
  // order and a broadcast, so that every rank gets the same bits by construction.
  template <class T>
  void allreduce(T* data, index count, MPI_Datatype type, MPI_Op op, const char* call) {
    require_usable(call);
    check_count(call, count);
    int type_bytes = 0;
    MPI_Type_size(type, &type_bytes);
    const std::size_t bytes = std::size_t(count) * std::size_t(type_bytes);
    std::byte* staged = stage(bytes);
    if (bytes > 0) std::memcpy(staged, data, bytes);
    MPI_Request request;
    if (type == MPI_INT64_T) {
      mpi_detail::check(MPI_Iallreduce(MPI_IN_PLACE, staged, int(count), type, op, comm_, &request),
                        "MPI_Iallreduce");
      wait(request, call);
    } else {
      mpi_detail::check(MPI_Ireduce(rank_ == 0 ? MPI_IN_PLACE : staged, staged, int(count), type,
                                    op, 0, comm_, &request),
                        "MPI_Ireduce");
      wait(request, call);
      mpi_detail::check(MPI_Ibcast(staged, int(count), type, 0, comm_, &request), "MPI_Ibcast");
      wait(request, call);
    }
    if (bytes > 0) std::memcpy(data, staged, bytes);
  }

  void agree_outcome(collective what, std::int64_t key, const std::exception_ptr& failure) {
    const char* name = collective_name(what);
    require_usable(name);
    // One MPI_MAX over (first failing rank as size - rank, what, -what, key, -key, sequence,
    // -sequence) gives the first failure and the range of each field.
    const auto w = std::int64_t(what);
    std::int64_t v[7] = {
        failure ? std::int64_t(size_ - rank_) : 0, w, -w, key, -key, sequence_, -sequence_};
    allreduce(v, 7, MPI_INT64_T, MPI_MAX, name);
    const std::int64_t first_sequence = -v[6];
    sequence_ = v[5] + 1;  // in step again, whatever happened
    // A failure first: a rank that threw outside any call (distributed::retrieve reports it
    // from wherever the others are) is what every rank should hear of.
    if (v[0] != 0) report_failure(int(size_ - v[0]), name, failure);
    if (v[1] != -v[2] || v[5] != first_sequence || v[3] != -v[4]) ++agreed_errors_;
    if (v[1] != -v[2] || v[5] != first_sequence) {
      throw collective_mismatch(detail::message(
          "the ranks are in different collective calls (this rank, ", rank_, " of ", size_, ", in ",
          name, "; calls numbered ", first_sequence, " to ", v[5],
          "): every rank must make the same calls of engram/distributed in the same order"));
    }
    if (v[3] != -v[4])
      throw collective_mismatch(detail::message(
          name, " was called with different arguments on different ranks (keys from ", -v[4],
          " to ", v[3], "; rank ", rank_, " of ", size_, " passed ", key,
          "): every rank must pass batches of the same size"));
  }

  // Every rank raises: the failing ranks their own error, the others rank_failed with the
  // first failing rank's message.
  [[noreturn]] void report_failure(int first, const char* name, const std::exception_ptr& failure) {
    std::string text;
    if (rank_ == first) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        text = e.what();
      } catch (...) {
        text = "an exception that is not a std::exception";
      }
    }
    ++agreed_errors_;
    std::int64_t length = std::int64_t(text.size());
    broadcast(&length, 1, first);
    text.resize(std::size_t(length));
    broadcast(text.data(), length, first);
    if (failure) std::rethrow_exception(failure);
    throw rank_failed(
        detail::message("rank ", first, " of ", size_, " failed in ", name, ": ", text));
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 0;
  duration timeout_;
  bool broken_ = false;
  std::int64_t sequence_ = 0;
  std::uint64_t agreed_errors_ = 0;
  MPI_Op exp_op_[2] = {MPI_OP_NULL, MPI_OP_NULL};
  MPI_Op sum_op_[2] = {MPI_OP_NULL, MPI_OP_NULL};
  MPI_Op add_op_[2] = {MPI_OP_NULL, MPI_OP_NULL};
  std::unique_ptr<std::vector<std::byte>> staging_ = std::make_unique<std::vector<std::byte>>();
};

}  // namespace engram::distributed
