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
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
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
    mpi_detail::check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
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
    const std::int64_t own = n;
    std::vector<std::int64_t> all(static_cast<std::size_t>(size_));
    {
      MPI_Request request;
      mpi_detail::check(
          MPI_Iallgather(&own, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, comm_, &request),
          "MPI_Iallgather");
      wait(request, "all_gather");
    }
    std::vector<int> sizes(static_cast<std::size_t>(size_)),
        offsets(static_cast<std::size_t>(size_));
    std::int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      if (total + all[std::size_t(r)] > std::numeric_limits<int>::max())
        throw distributed_error(
            detail::message("all_gather: ", total + all[std::size_t(r)],
                            " numbers in all exceed what one MPI call can move"));
      offsets[std::size_t(r)] = int(total);
      sizes[std::size_t(r)] = int(all[std::size_t(r)]);
      total += all[std::size_t(r)];
    }
    counts.assign(all.begin(), all.end());
    out.resize(static_cast<std::size_t>(total));
    MPI_Request request;
    mpi_detail::check(
        MPI_Iallgatherv(mine, int(n), mpi_detail::type_of<T>(), out.data(), sizes.data(),
                        offsets.data(), mpi_detail::type_of<T>(), comm_, &request),
        "MPI_Iallgatherv");
    wait(request, "all_gather");
  }

  /// Rank `root`'s `n` numbers into every rank's `data`.
  template <class T>
  void broadcast(T* data, index n, int root) {
    static_assert(std::is_trivially_copyable_v<T>);
    MPI_Request request;
    mpi_detail::check(MPI_Ibcast(data, int(n * index(sizeof(T))), MPI_BYTE, root, comm_, &request),
                      "MPI_Ibcast");
    wait(request, "broadcast");
  }

  /// Rank `root`'s blocks of numbers, block r to rank r (`counts` on root only; `out` sized on
  /// every rank to its own count).
  template <real_scalar Scalar>
  void scatter(const Scalar* data, const std::vector<int>& counts, Scalar* out, int count,
               int root) {
    std::vector<int> offsets(counts.size());
    for (std::size_t r = 1; r < counts.size(); ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
    MPI_Request request;
    mpi_detail::check(
        MPI_Iscatterv(data, counts.data(), offsets.data(), mpi_detail::scalar_type<Scalar>(), out,
                      count, mpi_detail::scalar_type<Scalar>(), root, comm_, &request),
        "MPI_Iscatterv");
    wait(request, "scatter");
  }

 private:
  static void check_timeout(duration timeout) {
    if (timeout.count() <= 0)
      throw invalid_argument(
          detail::message("the timeout is ", timeout.count(), " ms; it must be at least 1 ms"));
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

  template <class T>
  void allreduce(T* data, index count, MPI_Datatype type, MPI_Op op, const char* call) {
    require_usable(call);
    if (count > std::numeric_limits<int>::max())
      throw distributed_error(
          detail::message(call, ": ", count, " records exceed what one MPI call can move"));
    MPI_Request request;
    mpi_detail::check(MPI_Iallreduce(MPI_IN_PLACE, data, int(count), type, op, comm_, &request),
                      "MPI_Iallreduce");
    wait(request, call);
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
    if (v[0] == 0) return;
    // The first failing rank tells the others what it raised.
    const int first = int(size_ - v[0]);
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
  MPI_Op exp_op_[2] = {MPI_OP_NULL, MPI_OP_NULL};
  MPI_Op sum_op_[2] = {MPI_OP_NULL, MPI_OP_NULL};
  MPI_Op add_op_[2] = {MPI_OP_NULL, MPI_OP_NULL};
};

}  // namespace engram::distributed
