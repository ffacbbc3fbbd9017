// The products inside the cpu backend's tiles: c = alpha op(a) b, or c += alpha op(a) b, on the
// calling thread (the reductions and feature tiles thread over tiles, never inside one).
//
// Built with ENGRAM_BLAS=blis (CMake), which defines ENGRAM_USE_BLIS and links BLIS, a product
// runs on the gemm micro-kernel that BLIS selects for the running CPU (register-blocked
// assembly; on Zen 3 its "zen3" configuration: 6 x 16 floats, 6 x 8 doubles, KC = 256), over
// panels that engram packs itself into the calling thread's buffer, blocked by BLIS's own cache
// sizes (KC, MC). BLIS's whole gemm is not called: it takes packing memory from process-wide
// pools that grow whenever more threads call at once, and its OpenMP layer opens a parallel
// region (a team allocated per call) even for one thread. Here nothing is allocated once the
// buffer has grown, and nothing is threaded. Thin products (fewer than 16 rows or columns, where
// packing would cost as much as the product) and builds without BLIS run on Eigen's GEMM.
// Operands are column-major with unit inner stride: Eigen matrices, their blocks and Refs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "engram/core/backend.hpp"
#include "engram/core/types.hpp"

#if defined(ENGRAM_USE_BLIS)
#include <blis.h>
#endif

namespace engram {

#if defined(ENGRAM_USE_BLIS)
namespace cpu_detail {

/// BLIS's native gemm micro-kernel for Scalar on this CPU and the block sizes it was tuned with.
template <class Scalar>
struct blis_kernel {
  using ukernel = void (*)(dim_t, dim_t, dim_t, Scalar*, Scalar*, Scalar*, Scalar*, Scalar*, inc_t,
                           inc_t, auxinfo_t*, cntx_t*);
  cntx_t* cntx;
  ukernel run;
  index mr, nr, kc, mc;
  bool prefers_rows;

  static const blis_kernel& get() {
    static const blis_kernel k = [] {
      constexpr num_t dt = std::is_same_v<Scalar, float> ? BLIS_FLOAT : BLIS_DOUBLE;
      blis_kernel r{};
      r.cntx = bli_gks_query_cntx();
      r.run = reinterpret_cast<ukernel>(bli_cntx_get_l3_nat_ukr_dt(dt, BLIS_GEMM_UKR, r.cntx));
      // Panels are packed PACKMR x PACKNR wide (the blocks' "max" sizes), which the kernels read.
      r.mr = index(bli_cntx_get_blksz_max_dt(dt, BLIS_MR, r.cntx));
      r.nr = index(bli_cntx_get_blksz_max_dt(dt, BLIS_NR, r.cntx));
      r.kc = index(bli_cntx_get_blksz_def_dt(dt, BLIS_KC, r.cntx));
      r.mc = index(bli_cntx_get_blksz_def_dt(dt, BLIS_MC, r.cntx));
      r.prefers_rows = bli_cntx_l3_nat_ukr_prefers_rows_dt(dt, BLIS_GEMM_UKR, r.cntx);
      return r;
    }();
    return k;
  }
};

/// A logical rows x k matrix Q(i, l) = src[i si + l sl].
template <class Scalar>
struct strided {
  const Scalar* src;
  index si, sl;
};

/// Packs rows [i0, i0 + rows) and columns [l0, l0 + kc) of q as one micro-panel of `width` rows:
/// out[l width + i] = q(i0 + i, l0 + l), rows beyond `rows` zero.
template <class Scalar>
void pack_panel(const strided<Scalar>& q, index i0, index rows, index l0, index kc, index width,
                Scalar* out) {
  if (q.sl == 1) {  // rows contiguous in the source: read each row along k
    for (index i = 0; i < rows; ++i) {
      const Scalar* s = q.src + (i0 + i) * q.si + l0;
      for (index l = 0; l < kc; ++l) out[l * width + i] = s[l];
    }
  } else {  // columns contiguous: read each column of the panel
    for (index l = 0; l < kc; ++l) {
      const Scalar* s = q.src + i0 * q.si + (l0 + l) * q.sl;
      Scalar* o = out + l * width;
      for (index i = 0; i < rows; ++i) o[i] = s[i * q.si];
    }
  }
  if (rows < width)
    for (index l = 0; l < kc; ++l)
      for (index i = rows; i < width; ++i) out[l * width + i] = Scalar(0);
}

inline index round_up(index n, index to) {
  return (n + to - 1) / to * to;
}

/// Numbers of the packing buffer for a product of mu x k by k x nu: all right panels of one
/// KC block, one MC block of left panels, and room to align.
template <class Scalar>
index pack_size(index mu, index nu, index k) {
  const blis_kernel<Scalar>& kr = blis_kernel<Scalar>::get();
  constexpr index align = 64 / index(sizeof(Scalar));
  const index kc = std::min(kr.kc, k);
  const index mc = std::min(round_up(kr.mc, kr.mr), round_up(mu, kr.mr));
  return round_up(kr.nr * kc, align) * ((nu + kr.nr - 1) / kr.nr) +
         round_up(kr.mr * kc, align) * (mc / kr.mr) + align;
}

/// c_u = alpha left right^T (+ c_u when accumulating) over BLIS's micro-kernel, for the mu x k
/// matrix `left` and the nu x k matrix `right`; c_u(i, j) = c[i rs + j cs].
template <class Scalar>
void blis_product(const strided<Scalar>& left, index mu, const strided<Scalar>& right, index nu,
                  index k, Scalar alpha, bool accumulate, Scalar* c, index rs, index cs,
                  vector<Scalar>& pack) {
  const blis_kernel<Scalar>& kr = blis_kernel<Scalar>::get();
  constexpr index align = 64 / index(sizeof(Scalar));  // 64-byte panels for aligned loads
  const index need = pack_size<Scalar>(mu, nu, k);
  if (pack.size() < need) pack.resize(need);
  const index right_size = round_up(kr.nr * std::min(kr.kc, k), align) * ((nu + kr.nr - 1) / kr.nr);
  Scalar* base = pack.data();
  base += (align - index(reinterpret_cast<std::uintptr_t>(base) / sizeof(Scalar)) % align) % align;
  Scalar* right_packed = base;
  Scalar* left_packed = base + right_size;
  auxinfo_t aux{};
  Scalar one(1), zero(0);
  for (index l0 = 0; l0 < k; l0 += kr.kc) {
    const index kc = std::min(kr.kc, k - l0);
    const index lp = round_up(kr.mr * kc, align), rp = round_up(kr.nr * kc, align);
    Scalar* beta = (l0 == 0 && !accumulate) ? &zero : &one;
    for (index j0 = 0; j0 < nu; j0 += kr.nr)
      pack_panel(right, j0, std::min(kr.nr, nu - j0), l0, kc, kr.nr,
                 right_packed + (j0 / kr.nr) * rp);
    for (index i0 = 0; i0 < mu; i0 += kr.mc) {
      const index mc = std::min(kr.mc, mu - i0);
      for (index i = 0; i < mc; i += kr.mr)
        pack_panel(left, i0 + i, std::min(kr.mr, mc - i), l0, kc, kr.mr,
                   left_packed + (i / kr.mr) * lp);
      for (index j = 0; j < nu; j += kr.nr) {
        Scalar* b = right_packed + (j / kr.nr) * rp;
        for (index i = 0; i < mc; i += kr.mr) {
          Scalar* a = left_packed + (i / kr.mr) * lp;
          bli_auxinfo_set_next_a(a, &aux);
          bli_auxinfo_set_next_b(b, &aux);
          kr.run(dim_t(std::min(kr.mr, mc - i)), dim_t(std::min(kr.nr, nu - j)), dim_t(kc), &alpha,
                 a, b, beta, c + (i0 + i) * rs + j * cs, inc_t(rs), inc_t(cs), &aux, kr.cntx);
        }
      }
    }
  }
}

}  // namespace cpu_detail
#endif

namespace cpu_detail {
/// Whether an m x n x k product runs on the micro-kernel: packing costs about 1/m + 1/n of the
/// product, so thin products (a few queries) stay on Eigen's GEMV-like paths.
inline bool packs(index m, index n, index k) {
  return m >= 16 && n >= 16 && k >= 1;
}
}  // namespace cpu_detail

/// The packing buffer (numbers of Scalar) that tile_product needs for c (m x n) = op(a) b with k
/// terms: 0 where it does not pack (without BLIS, or for thin products).
template <class Scalar>
index tile_product_pack_size(cpu, index m, index n, index k) {
#if defined(ENGRAM_USE_BLIS)
  if constexpr (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) {
    if (!cpu_detail::packs(m, n, k)) return 0;
    return cpu_detail::blis_kernel<Scalar>::get().prefers_rows
               ? cpu_detail::pack_size<Scalar>(n, m, k)
               : cpu_detail::pack_size<Scalar>(m, n, k);
  }
#endif
  (void)m, (void)n, (void)k;
  return 0;
}

/// c = alpha op(a) b (accumulate false) or c += alpha op(a) b (accumulate true), where op(a) is
/// a^T when transpose_a. `pack` is the calling thread's packing buffer (grown when too small;
/// unused without BLIS). Shapes must agree; the callers' loops guarantee it. With accumulate
/// false, c is written without being read.
template <class A, class B, class C>
void tile_product(cpu, bool transpose_a, typename std::decay_t<C>::Scalar alpha, const A& a,
                  const B& b, bool accumulate, C&& c,
                  vector<typename std::decay_t<C>::Scalar>& pack) {
  using Scalar = typename std::decay_t<C>::Scalar;
  static_assert(std::is_same_v<Scalar, typename A::Scalar> &&
                std::is_same_v<Scalar, typename B::Scalar>);
  if (c.size() == 0) return;
#if defined(ENGRAM_USE_BLIS)
  if constexpr (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) {
    const index m = c.rows(), n = c.cols(), k = b.rows();
    if (cpu_detail::packs(m, n, k)) {
      using cpu_detail::strided;
      // op(a) and b^T as rows x k matrices.
      const strided<Scalar> op_a = transpose_a ? strided<Scalar>{a.data(), a.outerStride(), 1}
                                               : strided<Scalar>{a.data(), 1, a.outerStride()};
      const strided<Scalar> b_t{b.data(), b.outerStride(), 1};
      // A kernel that stores rows of its block fast computes c^T = b^T op(a)^T into c's columns.
      if (cpu_detail::blis_kernel<Scalar>::get().prefers_rows)
        cpu_detail::blis_product(b_t, n, op_a, m, k, alpha, accumulate, c.data(), c.outerStride(),
                                 index(1), pack);
      else
        cpu_detail::blis_product(op_a, m, b_t, n, k, alpha, accumulate, c.data(), index(1),
                                 c.outerStride(), pack);
      return;
    }
  }
#endif
  (void)pack;
  if (transpose_a) {
    if (accumulate)
      c.noalias() += alpha * (a.transpose() * b);
    else
      c.noalias() = alpha * (a.transpose() * b);
  } else {
    if (accumulate)
      c.noalias() += alpha * (a * b);
    else
      c.noalias() = alpha * (a * b);
  }
}

}  // namespace engram
