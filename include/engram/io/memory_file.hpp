// Memory files: a dense_memory or a distributed_memory, optionally with the parameters of the
// energy over it, in one versioned little-endian binary file whose header and payload each carry
// a CRC32 (zlib's crc32()). Files are written beside their final name and renamed into place, so
// a reader sees the old file or the new one, never part of one.
//
// API (namespace engram::io; Memory is a dense_memory<Scalar> or a distributed_memory<Map, Scalar>)
//   void save_memory(path, const dense_memory<Scalar>&);
//   void save_memory(path, const dense_memory<Scalar>&, const dense_params<Scalar>&);
//   void save_memory(path, const distributed_memory<Map, Scalar>&);
//   void save_memory(path, const distributed_memory<Map, Scalar>&, const drdam_params<Scalar>&);
//   Memory load_memory<Memory>(path, const load_options& = {});
//   memory_and_params<Memory, Params> load_memory<Memory, Params>(path, const load_options& = {});
//   memory_file_header read_memory_file_header(path);
// lsr_params is dense_params. load_memory<Memory> also reads a file saved with parameters (and
// checks them); load_memory<Memory, Params> requires them. A DrDAM energy is saved as
// save_memory(path, energy.memory(), {energy.eps()}) and rebuilt as
// drdam_energy<Map, Scalar>(loaded.memory, loaded.params.eps).
//
// What is stored. A dense memory: its D x K patterns. A distributed memory: the recipe of its
// feature map and its tensor T with the pattern count, and its readout tensor R (F x D) when it
// keeps one (has_readout(); loaded through from_tensor, so the loaded memory keeps R too). For
// random_features the recipe is the formula's name (cos, sincos, exp, exp_exp, or a user
// formula's `name`; checked against the requested type on load), D, Y, beta and either the seed
// with feature_options (orthogonal, storage, tile: the projection is regenerated, bitwise equal)
// or, for a projection given by the user, omega (Y x D), its phases b (Y) and the tile.
// quadratic_features store beta. Other feature maps are refused at compile time.
// dense_memory::version() is not stored; it restarts at 0.
//
// Layout, version 1. Integers unsigned little-endian; numbers IEEE binary32 (float) or binary64
// (double) little-endian, whatever the host.
//   offset size
//     0     8   magic 89 45 4E 47 52 41 4D 0A ("\x89ENGRAM\n")
//     8     4   format version (1)
//    12     4   header bytes H (104). Every version keeps bytes 0-15 and ends its header with
//               the CRC32 of the H - 4 bytes before it, so a reader can tell a newer file from a
//               corrupt one.
//    16     1   object: 1 dense_memory, 2 distributed_memory
//    17     1   scalar: 4 float, 8 double
//    18     1   parameters: 0 none, 1 dense_params (beta, eps), 2 drdam_params (eps)
//    19     1   projection: 0 none (dense memory, quadratic map), 1 drawn from a seed, 2 the user's
//    20     1   projection flags (drawn projections only): bit 0 orthogonal, bit 1 on_demand,
//               bit 2 the float draw (normal_draw::float_box_muller; clear: double_box_muller)
//    21     1   readout: 0 none, 1 R follows T in the payload (distributed memories only)
//    22     2   reserved, zero
//    24    16   feature map name, ASCII, zero-padded ("" for a dense memory)
//    40     8   D
//    48     8   K, the patterns stored
//    56     8   Y, the random directions (0 unless random features)
//    64     8   F, the length of T (0 for a dense memory)
//    72     8   tile (0 unless random features)
//    80     8   seed (0 unless drawn)
//    88     8   payload bytes
//    96     4   CRC32 of the payload
//   100     4   CRC32 of bytes 0-99
//   104         payload, numbers of the header's scalar type, in order:
//               dense: the patterns, D x K column-major; distributed: beta, then for a user
//               projection omega (Y x D column-major) and b (Y), then T (F), then, when
//               byte 21 is 1, R (F x D column-major); then the parameters, if any:
//               dense_params beta, eps; drdam_params eps.
// Byte 21 was reserved before R could be saved; the format version stayed 1. A file without R
// (byte 21 zero) is byte for byte what it was and loads as before. A reader from before then
// refuses a file with R as malformed: it raises parse_error "unknown reserved byte code 1"
// (after the header's CRC32 and version pass), and never loads it without R. A dense memory
// with byte 21 set, or a byte 21 above 1, is malformed here too (parse_error naming the
// readout).
// Bit 2 of byte 20 came with the float draw, the default since; the format version stayed 1
// again. Files saved before have it clear and regenerate their double-drawn directions as they
// always did; a reader from before refuses a file with it set ("unknown projection flags code
// 4" and up) rather than regenerate other directions than those T was encoded with.
//
// Conversion. A file loads as either scalar type (load_options::allow_conversion = false refuses
// the other one with conversion_error). float -> double is exact. double -> float rounds to
// nearest (ties to even; below float's range a number becomes a subnormal or a signed zero) and
// throws conversion_error naming the file, the field (beta, omega, bias, the memory tensor T,
// the readout tensor R, a parameter) and the entry for a number beyond float's range (one that
// would round to inf), and for a result the memory refuses (beta rounded to 0, a pattern whose
// squared norm overflows float). A drawn projection is regenerated in the
// requested type, so a converted distributed memory's map equals one built in that type from
// the same seed.
//
// Loading checks, in order: the magic, the header's CRC32, the version (a newer one is named), the
// codes and the shapes against each other and against the requested type, sizes for 64-bit
// overflow and against load_options::max_bytes (io_error naming the size and how to raise the
// limit) before anything is allocated, the file length, the payload's CRC32, that every number
// is finite, the parameters' domains, then the conversion. A malformed file raises parse_error
// naming the file and what was wrong; no partially filled object is ever returned.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#if __has_include(<unistd.h>) && __has_include(<fcntl.h>)
#include <fcntl.h>
#include <unistd.h>
#define ENGRAM_IO_POSIX_SYNC 1
#endif

#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/params.hpp"
#include "engram/core/types.hpp"
#include "engram/features/feature_map.hpp"
#include "engram/memory/dense_memory.hpp"
#include "engram/memory/distributed_memory.hpp"

namespace engram::io {

/// A number in a memory file that the requested scalar type cannot hold (a double beyond float's
/// range), or a conversion that the file's numbers do not survive, or a conversion refused by
/// load_options::allow_conversion. The file itself is sound; load it as its own scalar type.
class conversion_error : public invalid_argument {
 public:
  using invalid_argument::invalid_argument;
};

/// The DrDAM energy's own parameter, saved beside a distributed memory (beta belongs to the
/// feature map and is saved with it): drdam_energy<Map, Scalar>(memory, params.eps).
template <real_scalar Scalar>
struct drdam_params {
  Scalar eps = Scalar(1e-5);  // floor of <T, phi(x)> inside the log, drdam_energy's default

  void validate() const { require_positive("drdam_params.eps", eps); }
};

/// What load_memory<Memory, Params> returns: `auto [memory, params] = load_memory<M, P>(path);`.
template <class Memory, class Params>
struct memory_and_params {
  Memory memory;
  Params params;
};

struct load_options {
  /// The most bytes a load may allocate for numbers: the stored numbers in the requested scalar
  /// type and what the load derives from them (a dense memory's cached norms; a drawn
  /// projection's phases and, materialised, its omega). Checked against the header's claims
  /// before anything is allocated; raise it for larger memories. (Building the memory may
  /// briefly hold a second copy of the patterns or of a user's omega.)
  std::uint64_t max_bytes = std::uint64_t(4) << 30;
  /// Whether a float file may load as double and a double file as float (see the header).
  bool allow_conversion = true;
};

enum class memory_object : std::uint8_t { dense = 1, distributed = 2 };
enum class memory_params : std::uint8_t { none = 0, dense = 1, drdam = 2 };
enum class memory_projection : std::uint8_t { none = 0, seeded = 1, user = 2 };

/// The header of a memory file, decoded and checked.
struct memory_file_header {
  std::uint32_t version = 0;
  memory_object object = memory_object::dense;
  std::uint8_t scalar_bytes = 0;  ///< 4: float, 8: double
  memory_params params = memory_params::none;
  memory_projection projection = memory_projection::none;
  bool orthogonal = false;
  bool on_demand = false;
  bool float_draw = false;        ///< normal_draw::float_box_muller; else double_box_muller
  std::string feature_map;        ///< "cos", "sincos", "exp", "exp_exp", "quadratic"; "" if dense
  std::uint64_t dim = 0;          ///< D
  std::uint64_t patterns = 0;     ///< K
  std::uint64_t directions = 0;   ///< Y, random features only
  std::uint64_t tensor_size = 0;  ///< F, distributed memories only
  bool readout = false;           ///< whether R (F x D) follows T; distributed memories only
  std::uint64_t tile = 0;
  std::uint64_t seed = 0;
  std::uint64_t payload_bytes = 0;
  std::uint32_t payload_crc = 0;
};

namespace memory_file_detail {

using engram::detail::message;

inline constexpr std::array<unsigned char, 8> magic = {0x89, 'E', 'N', 'G', 'R', 'A', 'M', '\n'};
inline constexpr std::uint32_t format_version = 1;
inline constexpr std::size_t header_bytes = 104;
inline constexpr std::size_t max_header_bytes = 4096;  // a bound for headers of later versions
inline constexpr std::size_t chunk_bytes = std::size_t(1) << 20;
inline constexpr std::uint64_t index_limit = std::uint64_t(std::numeric_limits<index>::max());

template <class>
inline constexpr bool always_false = false;

// ---- what a type saves as -------------------------------------------------------------------

/// The saved identity of a feature map type; only random_features and quadratic_features have
/// one.
template <class Features>
struct feature_recipe {
  static_assert(always_false<Features>,
                "engram::io saves distributed memories over random_features (cos, sincos, exp, "
                "exp_exp or a formula with a name) and over quadratic_features; this feature map "
                "has no saved form");
};
template <random_feature_formula Map, real_scalar Scalar, backend Backend>
struct feature_recipe<random_features<Map, Scalar, Backend>> {
  static constexpr std::string_view name{Map::name};
  static constexpr bool random = true;
  static constexpr index multiplicity = Map::multiplicity;
  static_assert(!name.empty() && name.size() <= 16 && name.find('\0') == std::string_view::npos,
                "a saved random-feature formula needs a name of 1 to 16 characters");
};
template <real_scalar Scalar>
struct feature_recipe<quadratic_features<Scalar>> {
  static constexpr std::string_view name{"quadratic"};
  static constexpr bool random = false;
  static constexpr index multiplicity = 0;
};

template <class Memory>
struct memory_traits {
  static_assert(always_false<Memory>,
                "load_memory<Memory>: Memory must be an engram::dense_memory<Scalar> or an "
                "engram::distributed_memory<FeatureMap, Scalar>");
};
template <real_scalar Scalar, backend Backend>
struct memory_traits<dense_memory<Scalar, Backend>> {
  using scalar_type = Scalar;
  static constexpr memory_object object = memory_object::dense;
};
template <class FeatureMap, real_scalar Scalar, backend Backend>
struct memory_traits<distributed_memory<FeatureMap, Scalar, Backend>> {
  using scalar_type = Scalar;
  using features_type = typename distributed_memory<FeatureMap, Scalar, Backend>::features_type;
  static constexpr memory_object object = memory_object::distributed;
  static_assert(std::is_same_v<typename features_type::scalar_type, Scalar>,
                "a saved distributed memory's feature map must use the memory's scalar type");
};

struct no_params {};

template <class Params>
struct params_traits {
  static_assert(always_false<Params>,
                "load_memory<Memory, Params>: Params must be dense_params<Scalar> (lsr_params) "
                "with a dense_memory or drdam_params<Scalar> with a distributed_memory");
};
template <>
struct params_traits<no_params> {
  static constexpr memory_params kind = memory_params::none;
};
template <real_scalar Scalar>
struct params_traits<dense_params<Scalar>> {
  using scalar_type = Scalar;
  static constexpr memory_params kind = memory_params::dense;
};
template <real_scalar Scalar>
struct params_traits<drdam_params<Scalar>> {
  using scalar_type = Scalar;
  static constexpr memory_params kind = memory_params::drdam;
};

// ---- names and little-endian integers ------------------------------------------------------

inline const char* object_name(memory_object o) {
  return o == memory_object::dense ? "dense_memory" : "distributed_memory";
}
inline const char* params_name(memory_params p) {
  return p == memory_params::none    ? "no parameters"
         : p == memory_params::dense ? "dense_params"
                                     : "drdam_params";
}
inline const char* scalar_name(std::size_t bytes) {
  return bytes == 4 ? "float" : "double";
}

inline std::uint64_t get_le(const unsigned char* in, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t(in[i]) << (8 * i);
  return v;
}
inline void put_le(unsigned char* out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

inline std::uint32_t crc(std::uint32_t running, const unsigned char* data, std::size_t n) {
  uLong c = running;
  while (n > 0) {  // crc32() takes a uInt length
    const uInt part = uInt(std::min<std::size_t>(n, std::size_t(1) << 30));
    c = crc32(c, data, part);
    data += part;
    n -= part;
  }
  return std::uint32_t(c);
}

inline std::string hex32(std::uint32_t v) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08x", unsigned(v));
  return text;
}

inline std::string errno_text(int code) {
  return std::generic_category().message(code);
}

// ---- sizes ----------------------------------------------------------------------------------

inline std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, const std::string& file) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a)
    throw parse_error(
        message("'", file, "' declares sizes whose product ", a, " x ", b, " overflows 64 bits"));
  return a * b;
}
inline std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, const std::string& file) {
  if (b > std::numeric_limits<std::uint64_t>::max() - a)
    throw parse_error(
        message("'", file, "' declares sizes whose sum ", a, " + ", b, " overflows 64 bits"));
  return a + b;
}

inline std::uint64_t params_count(memory_params p) {
  return p == memory_params::dense ? 2 : p == memory_params::drdam ? 1 : 0;
}

/// The numbers the payload of `h` holds.
inline std::uint64_t payload_numbers(const memory_file_header& h, const std::string& file) {
  std::uint64_t n = 0;
  if (h.object == memory_object::dense) {
    n = checked_mul(h.dim, h.patterns, file);
  } else {
    // beta, T and, when kept, R (F x D)
    n = checked_add(1, h.tensor_size, file);
    if (h.readout) n = checked_add(n, checked_mul(h.tensor_size, h.dim, file), file);
    if (h.projection == memory_projection::user)
      n = checked_add(n, checked_mul(checked_add(h.dim, 1, file), h.directions, file), file);
  }
  return checked_add(n, params_count(h.params), file);
}

/// Bytes of the numbers a load of `h` as `Target` holds (see load_options::max_bytes).
template <real_scalar Target>
std::uint64_t loaded_bytes(const memory_file_header& h, const std::string& file) {
  std::uint64_t n = payload_numbers(h, file);
  if (h.object == memory_object::dense)
    n = checked_add(n, h.patterns, file);  // the cached half squared norms
  else if (h.projection == memory_projection::seeded)
    n = checked_add(
        n,
        checked_add(h.directions, h.on_demand ? 0 : checked_mul(h.directions, h.dim, file), file),
        file);  // the phases b and, materialised, omega
  return checked_mul(n, sizeof(Target), file);
}

// ---- the header -----------------------------------------------------------------------------

inline std::array<unsigned char, header_bytes> encode_header(const memory_file_header& h) {
  std::array<unsigned char, header_bytes> b{};
  std::copy(magic.begin(), magic.end(), b.begin());
  put_le(&b[8], h.version, 4);
  put_le(&b[12], header_bytes, 4);
  b[16] = std::uint8_t(h.object);
  b[17] = h.scalar_bytes;
  b[18] = std::uint8_t(h.params);
  b[19] = std::uint8_t(h.projection);
  b[20] = std::uint8_t((h.orthogonal ? 1 : 0) | (h.on_demand ? 2 : 0) | (h.float_draw ? 4 : 0));
  b[21] = h.readout ? 1 : 0;
  std::copy(h.feature_map.begin(), h.feature_map.end(), b.begin() + 24);
  put_le(&b[40], h.dim, 8);
  put_le(&b[48], h.patterns, 8);
  put_le(&b[56], h.directions, 8);
  put_le(&b[64], h.tensor_size, 8);
  put_le(&b[72], h.tile, 8);
  put_le(&b[80], h.seed, 8);
  put_le(&b[88], h.payload_bytes, 8);
  put_le(&b[96], h.payload_crc, 4);
  put_le(&b[100], crc(0, b.data(), 100), 4);
  return b;
}

/// Checks that the fields of a decoded version-1 header agree with each other.
inline void check_header_fields(const memory_file_header& h, const std::string& file) {
  const auto bad = [&](const auto&... what) {
    return parse_error(message("'", file, "' has an inconsistent header: ", what...));
  };
  if (h.dim < 1) throw bad("D is 0");
  for (const auto& [name, value] : {std::pair<const char*, std::uint64_t>{"D", h.dim},
                                    {"K", h.patterns},
                                    {"Y", h.directions},
                                    {"F", h.tensor_size},
                                    {"the tile", h.tile}})
    if (value > index_limit) throw bad(name, " is ", value, ", more than a matrix can index");
  const bool flags = h.orthogonal || h.on_demand || h.float_draw;
  if (h.object == memory_object::dense) {
    if (h.readout)
      throw bad("a dense_memory with the readout flag (byte 21) set; only a distributed_memory ",
                "keeps a readout tensor R");
    if (!h.feature_map.empty() || h.projection != memory_projection::none || flags ||
        h.directions || h.tensor_size || h.tile || h.seed)
      throw bad("a dense_memory with feature-map fields set");
    if (h.params == memory_params::drdam) throw bad("a dense_memory with drdam_params");
    return;
  }
  if (h.feature_map.empty()) throw bad("a distributed_memory without a feature map name");
  if (h.params == memory_params::dense) throw bad("a distributed_memory with dense_params");
  if (h.feature_map == "quadratic") {
    if (h.dim != 2 || h.tensor_size != 3 || h.projection != memory_projection::none || flags ||
        h.directions || h.tile || h.seed)
      throw bad("a quadratic map needs D = 2, F = 3 and no projection; it declares D = ", h.dim,
                ", F = ", h.tensor_size, ", Y = ", h.directions);
    return;
  }
  if (h.projection == memory_projection::none)
    throw bad("the random feature map '", h.feature_map, "' has no projection");
  if (h.directions < 1 || h.tensor_size < 1 || h.tile < 1)
    throw bad("the random feature map declares Y = ", h.directions, ", F = ", h.tensor_size,
              ", tile = ", h.tile, "; each must be at least 1");
  if (h.projection == memory_projection::user && (flags || h.seed))
    throw bad("a projection given by the user with a seed or drawing flags");
}

/// Reads and checks the header of `file` (magic, CRC32, version, codes, shapes, payload size);
/// leaves the stream after the header.
inline memory_file_header read_header(std::FILE* in, const std::string& file,
                                      std::uint64_t file_size) {
  std::array<unsigned char, max_header_bytes> b{};
  const std::size_t wanted = std::size_t(std::min<std::uint64_t>(file_size, max_header_bytes));
  const std::size_t got = std::fread(b.data(), 1, wanted, in);
  if (got < wanted) throw io_error(message("cannot read '", file, "': ", errno_text(errno)));
  if (!std::equal(b.begin(), b.begin() + std::min<std::size_t>(got, 8), magic.begin()))
    throw parse_error(message("'", file, "' is not an engram memory file: it does not start with ",
                              "the magic bytes 89 45 4E 47 52 41 4D 0A"));
  const auto truncated = [&] {
    return parse_error(
        message("'", file, "' is truncated: it ends after ", got, " bytes, inside its header"));
  };
  if (got < 16) throw truncated();
  const auto version = std::uint32_t(get_le(&b[8], 4));
  const auto size = std::size_t(get_le(&b[12], 4));
  if (size < 20 || size > max_header_bytes)
    throw parse_error(message("'", file, "' has a corrupt header: it declares a header of ", size,
                              " bytes (version 1 headers have ", header_bytes, ")"));
  if (got < size) throw truncated();
  const auto stored_crc = std::uint32_t(get_le(&b[size - 4], 4));
  const std::uint32_t computed_crc = crc(0, b.data(), size - 4);
  if (stored_crc != computed_crc)
    throw parse_error(message("'", file, "' has a corrupt header: its CRC32 is ", hex32(stored_crc),
                              " but its bytes give ", hex32(computed_crc)));
  if (version > format_version)
    throw parse_error(message("'", file, "' has format version ", version, ", newer than version ",
                              format_version,
                              ", the newest this engram reads; load it with a newer engram"));
  if (version == 0)
    throw parse_error(message("'", file, "' declares format version 0, which does not exist"));
  if (size != header_bytes)
    throw parse_error(message("'", file, "' has a version 1 header of ", size,
                              " bytes; it must have ", header_bytes));

  memory_file_header h;
  h.version = version;
  const auto bad_code = [&](const char* what, unsigned code) {
    return parse_error(message("'", file, "' has an unknown ", what, " code ", code));
  };
  if (b[16] != 1 && b[16] != 2) throw bad_code("object", b[16]);
  if (b[17] != 4 && b[17] != 8) throw bad_code("scalar", b[17]);
  if (b[18] > 2) throw bad_code("parameters", b[18]);
  if (b[19] > 2) throw bad_code("projection", b[19]);
  if (b[20] > 7) throw bad_code("projection flags", b[20]);
  if (b[21] > 1) throw bad_code("readout", b[21]);
  if (b[22] || b[23]) throw bad_code("reserved byte", unsigned(b[22] | b[23]));
  h.object = memory_object(b[16]);
  h.scalar_bytes = b[17];
  h.params = memory_params(b[18]);
  h.projection = memory_projection(b[19]);
  h.orthogonal = b[20] & 1;
  h.on_demand = b[20] & 2;
  h.float_draw = b[20] & 4;
  h.readout = b[21] == 1;
  std::size_t name_length = 0;
  while (name_length < 16 && b[24 + name_length] != 0) ++name_length;
  for (std::size_t i = 24; i < 40; ++i) {
    const bool padding = i >= 24 + name_length;
    if (padding ? b[i] != 0 : (b[i] < 0x21 || b[i] > 0x7e))
      throw parse_error(message("'", file, "' has a corrupt header: its feature map name holds ",
                                "byte ", unsigned(b[i]), " at offset ", i));
  }
  h.feature_map.assign(reinterpret_cast<const char*>(&b[24]), name_length);
  h.dim = get_le(&b[40], 8);
  h.patterns = get_le(&b[48], 8);
  h.directions = get_le(&b[56], 8);
  h.tensor_size = get_le(&b[64], 8);
  h.tile = get_le(&b[72], 8);
  h.seed = get_le(&b[80], 8);
  h.payload_bytes = get_le(&b[88], 8);
  h.payload_crc = std::uint32_t(get_le(&b[96], 4));
  check_header_fields(h, file);
  const std::uint64_t expected = checked_mul(payload_numbers(h, file), h.scalar_bytes, file);
  if (h.payload_bytes != expected)
    throw parse_error(message("'", file,
                              "' has an inconsistent header: its payload is declared as ",
                              h.payload_bytes, " bytes, its shapes need ", expected));
  if (std::fseek(in, long(header_bytes), SEEK_SET) != 0)
    throw io_error(message("cannot read '", file, "': ", errno_text(errno)));
  return h;
}

// ---- reading --------------------------------------------------------------------------------

class input_file {
 public:
  explicit input_file(const std::filesystem::path& path) : name_(path.string()) {
    file_ = std::fopen(name_.c_str(), "rb");
    if (!file_)
      throw io_error(message("cannot open '", name_, "' for reading: ", errno_text(errno)));
    std::error_code ec;
    std::string problem;
    if (!std::filesystem::is_regular_file(path, ec))
      problem = message("cannot load '", name_, "': it is not a regular file");
    else if (size_ = std::filesystem::file_size(path, ec); ec)
      problem = message("cannot read the size of '", name_, "': ", ec.message());
    if (!problem.empty()) {
      std::fclose(file_);  // the destructor does not run for a throwing constructor
      file_ = nullptr;
      throw io_error(problem);
    }
  }
  ~input_file() {
    if (file_) std::fclose(file_);
  }
  input_file(const input_file&) = delete;
  input_file& operator=(const input_file&) = delete;

  std::FILE* get() const { return file_; }
  std::uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::FILE* file_ = nullptr;
  std::uint64_t size_ = 0;
};

/// `v` rounded to nearest in T; `overflow` is set (and the result infinite) when a finite `v`
/// lies beyond T's range, that is, at or past the midpoint between float's largest finite number
/// 2^128 - 2^104 and 2^128, where ties to even round to infinity.
template <real_scalar T>
T round_to(double v, bool& overflow) {
  if constexpr (std::is_same_v<T, float>) {
    constexpr double midpoint = 0x1.ffffffp127;  // 2^128 - 2^103
    const double magnitude = std::abs(v);
    if (std::isfinite(v) && magnitude > double(std::numeric_limits<float>::max())) {
      // Converted explicitly: a double beyond float's range has no float neighbour on one side.
      overflow = magnitude >= midpoint;
      const float rounded =
          overflow ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::max();
      return v < 0 ? -rounded : rounded;
    }
  }
  return static_cast<T>(v);
}

/// Reads the payload's numbers in chunks, converting them to the requested type as they come.
/// Problems of content (a non-finite number, one beyond float) are recorded and raised only by
/// finish() and narrowing(), after the CRC32 has shown that the bytes are the ones written.
class payload_reader {
 public:
  payload_reader(const input_file& in, const memory_file_header& h) : in_(in), h_(h) {}

  template <real_scalar T>
  void read(std::string_view name, T* out, index rows, index cols) {
    const std::size_t width = h_.scalar_bytes;
    const std::uint64_t count = std::uint64_t(rows) * std::uint64_t(cols);
    for (std::uint64_t done = 0; done < count;) {
      const std::uint64_t take = std::min<std::uint64_t>(count - done, chunk_bytes / width);
      buffer_.resize(std::size_t(take * width));
      const std::size_t got = std::fread(buffer_.data(), 1, buffer_.size(), in_.get());
      consumed_ += got;
      if (got < buffer_.size()) {
        if (std::ferror(in_.get()))
          throw io_error(message("cannot read '", in_.name(), "': ", errno_text(errno)));
        throw parse_error(message("'", in_.name(), "' is truncated: its payload ends after ",
                                  consumed_, " of ", h_.payload_bytes, " bytes"));
      }
      crc_ = crc(crc_, buffer_.data(), buffer_.size());
      for (std::uint64_t i = 0; i < take; ++i) {
        const unsigned char* p = &buffer_[std::size_t(i * width)];
        // Through double: exact for either stored type.
        const double v = width == 4 ? double(std::bit_cast<float>(std::uint32_t(get_le(p, 4))))
                                    : std::bit_cast<double>(get_le(p, 8));
        const std::uint64_t k = done + i;
        bool overflow = false;
        out[k] = round_to<T>(v, overflow);
        if (!std::isfinite(v)) {
          if (!non_finite_)
            non_finite_ = message(name, " has a non-finite entry ", v, " at (", k % rows, ", ",
                                  k / rows, ")");
        } else if (overflow && !narrowing_) {
          narrowing_ = message(name, " has ", v, " at (", k % rows, ", ", k / rows,
                               "), beyond float's largest finite number ",
                               std::numeric_limits<float>::max());
        }
      }
      done += take;
    }
  }
  double read_number(std::string_view name) {
    double v = 0;
    read(name, &v, 1, 1);
    return v;
  }

  /// Throws unless the payload's CRC32 matches and every number is finite.
  void finish() const {
    ENGRAM_ASSERT(consumed_ == h_.payload_bytes);
    if (crc_ != h_.payload_crc)
      throw parse_error(message("'", in_.name(), "' has a corrupt payload: its CRC32 is ",
                                hex32(crc_), ", the header records ", hex32(h_.payload_crc)));
    if (non_finite_)
      throw parse_error(message("'", in_.name(), "' holds a non-finite number: ", *non_finite_));
  }
  /// Throws conversion_error if a number read as float overflowed.
  void narrowing() const {
    if (narrowing_)
      throw conversion_error(message("'", in_.name(), "' holds double numbers that float cannot ",
                                     "hold: ", *narrowing_, "; load it as double"));
  }

 private:
  const input_file& in_;
  const memory_file_header& h_;
  std::vector<unsigned char> buffer_;
  std::uint64_t consumed_ = 0;
  std::uint32_t crc_ = 0;
  std::optional<std::string> non_finite_, narrowing_;
};

/// `v` in Target; conversion_error if it is beyond float.
template <real_scalar Target>
Target narrow(const std::string& file, std::string_view name, double v) {
  bool overflow = false;
  const Target t = round_to<Target>(v, overflow);
  if (overflow)
    throw conversion_error(message("'", file, "' holds double numbers that float cannot hold: ",
                                   name, " is ", v, ", beyond float's largest finite number ",
                                   std::numeric_limits<float>::max(), "; load it as double"));
  return t;
}

/// Runs `build` (which makes the loaded objects out of numbers already checked against the file)
/// and names the file in what it throws: conversion_error when the numbers were converted,
/// parse_error when the file's own numbers do not make a valid object.
template <class Build>
auto rebuild(const std::string& file, bool converted, const char* target, const char* what,
             Build&& build) {
  try {
    return build();
  } catch (const conversion_error&) {
    throw;
  } catch (const engram::error& e) {
    if (converted)
      throw conversion_error(message("'", file, "' cannot be loaded as a ", what, " of ", target,
                                     " numbers: ", e.what()));
    throw parse_error(message("'", file, "' holds an invalid ", what, ": ", e.what()));
  }
}

/// The stored parameters, read as double (exact for either stored type).
struct stored_params {
  double beta = 0, eps = 0;
};

inline stored_params read_params(payload_reader& payload, memory_params kind) {
  stored_params p;
  if (kind == memory_params::dense) {
    p.beta = payload.read_number("dense_params.beta");
    p.eps = payload.read_number("dense_params.eps");
  } else if (kind == memory_params::drdam) {
    p.eps = payload.read_number("drdam_params.eps");
  }
  return p;
}

/// Validates the stored parameters in the file's own terms (parse_error), before conversion.
inline void check_params(const stored_params& p, memory_params kind, const std::string& file) {
  try {
    if (kind == memory_params::dense) dense_params<double>{p.beta, p.eps}.validate();
    if (kind == memory_params::drdam) drdam_params<double>{p.eps}.validate();
  } catch (const engram::error& e) {
    throw parse_error(message("'", file, "' holds invalid parameters: ", e.what()));
  }
}

template <class Params>
Params make_params(const stored_params& p, const std::string& file) {
  if constexpr (std::is_same_v<Params, no_params>) {
    (void)p;
    (void)file;
    return {};
  } else {
    using Scalar = typename params_traits<Params>::scalar_type;
    if constexpr (params_traits<Params>::kind == memory_params::dense)
      return {narrow<Scalar>(file, "dense_params.beta", p.beta),
              narrow<Scalar>(file, "dense_params.eps", p.eps)};
    else
      return {narrow<Scalar>(file, "drdam_params.eps", p.eps)};
  }
}

template <class Memory, class Params>
memory_and_params<Memory, Params> load_file(const std::filesystem::path& path,
                                            const load_options& options) {
  using traits = memory_traits<Memory>;
  using Scalar = typename traits::scalar_type;
  if constexpr (!std::is_same_v<Params, no_params>) {
    static_assert(std::is_same_v<typename params_traits<Params>::scalar_type, Scalar>,
                  "load_memory<Memory, Params>: Params must use the memory's scalar type");
    static_assert((traits::object == memory_object::dense) ==
                      (params_traits<Params>::kind == memory_params::dense),
                  "load_memory<Memory, Params>: dense_params go with a dense_memory, "
                  "drdam_params with a distributed_memory");
  }
  input_file in(path);
  const std::string& file = in.name();
  const memory_file_header h = read_header(in.get(), file, in.size());

  // The request.
  if (h.object != traits::object)
    throw parse_error(message("'", file, "' holds a ", object_name(h.object), "; a ",
                              object_name(traits::object), " was requested"));
  if constexpr (traits::object == memory_object::distributed) {
    using recipe = feature_recipe<typename traits::features_type>;
    if (h.feature_map != recipe::name)
      throw parse_error(message("'", file, "' holds a distributed_memory over the '", h.feature_map,
                                "' feature map; the requested type uses '", recipe::name, "'"));
    if constexpr (recipe::random)
      if (h.tensor_size != std::uint64_t(recipe::multiplicity) * h.directions)
        throw parse_error(message("'", file, "' has an inconsistent header: F = ", h.tensor_size,
                                  " for Y = ", h.directions, "; the '", recipe::name,
                                  "' map has F = ", recipe::multiplicity, " Y"));
  }
  constexpr memory_params wanted = params_traits<Params>::kind;
  if (wanted != memory_params::none && h.params != wanted)
    throw parse_error(message("'", file, "' holds ", params_name(h.params), "; ",
                              params_name(wanted), " were requested"));
  const bool converted = h.scalar_bytes != sizeof(Scalar);
  const char* target = scalar_name(sizeof(Scalar));
  if (converted && !options.allow_conversion)
    throw conversion_error(message("'", file, "' holds ", scalar_name(h.scalar_bytes),
                                   " numbers and a memory of ", target,
                                   " was requested; load_options.allow_conversion is false"));

  // Sizes, before any allocation.
  const std::uint64_t needed = std::max(loaded_bytes<Scalar>(h, file), h.payload_bytes);
  if (needed > options.max_bytes)
    throw io_error(message("'", file, "' holds a ", object_name(h.object), " that needs ", needed,
                           " bytes to load (its payload is ", h.payload_bytes,
                           " bytes), more than load_options.max_bytes = ", options.max_bytes,
                           "; raise load_options.max_bytes to load it"));
  const std::uint64_t length = checked_add(header_bytes, h.payload_bytes, file);
  if (in.size() < length)
    throw parse_error(message("'", file, "' is truncated: it holds ", in.size(),
                              " bytes, its header declares ", length));
  if (in.size() > length)
    throw parse_error(message("'", file, "' has ", in.size() - length,
                              " bytes after the end its header declares (", length, " bytes)"));

  payload_reader payload(in, h);
  const index dim = index(h.dim), count = index(h.patterns);
  if constexpr (traits::object == memory_object::dense) {
    matrix<Scalar> patterns(dim, count);
    payload.read("patterns", patterns.data(), dim, count);
    const stored_params stored = read_params(payload, h.params);
    payload.finish();
    check_params(stored, h.params, file);
    payload.narrowing();
    Params params = make_params<Params>(stored, file);
    return rebuild(file, converted, target, "dense_memory", [&] {
      if constexpr (!std::is_same_v<Params, no_params>) params.validate();
      return memory_and_params<Memory, Params>{count == 0 ? Memory(dim) : Memory(patterns), params};
    });
  } else {
    using features_type = typename traits::features_type;
    using recipe = feature_recipe<features_type>;
    const double beta = payload.read_number("beta");
    matrix<Scalar> omega;
    vector<Scalar> bias;
    if (h.projection == memory_projection::user) {
      omega.resize(index(h.directions), dim);
      bias.resize(index(h.directions));
      payload.read("omega", omega.data(), omega.rows(), omega.cols());
      payload.read("bias", bias.data(), bias.size(), 1);
    }
    vector<Scalar> tensor(index(h.tensor_size));
    payload.read("the memory tensor T", tensor.data(), tensor.size(), 1);
    matrix<Scalar> readout_tensor;  // empty: no R
    if (h.readout) {
      readout_tensor.resize(index(h.tensor_size), dim);
      payload.read("the readout tensor R", readout_tensor.data(), readout_tensor.rows(),
                   readout_tensor.cols());
    }
    const stored_params stored = read_params(payload, h.params);
    payload.finish();
    if (!(beta > 0))
      throw parse_error(message("'", file, "' holds a feature map with beta = ", beta,
                                "; it must be greater than 0"));
    check_params(stored, h.params, file);
    payload.narrowing();
    const Scalar map_beta = narrow<Scalar>(file, "beta", beta);
    Params params = make_params<Params>(stored, file);
    return rebuild(file, converted, target, "distributed_memory", [&] {
      if constexpr (!std::is_same_v<Params, no_params>) params.validate();
      auto features = [&]() -> features_type {
        if constexpr (!recipe::random) {
          return features_type(map_beta);
        } else if (h.projection == memory_projection::user) {
          return features_type(gaussian_projection<Scalar>(omega, bias, index(h.tile)), map_beta);
        } else {
          const feature_options drawn{
              .orthogonal = h.orthogonal,
              .storage = h.on_demand ? omega_storage::on_demand : omega_storage::materialised,
              .tile = index(h.tile),
              .draw =
                  h.float_draw ? normal_draw::float_box_muller : normal_draw::double_box_muller};
          return features_type(dim, index(h.directions), map_beta, h.seed, drawn);
        }
      }();
      return memory_and_params<Memory, Params>{
          Memory::from_tensor(std::move(features), std::move(tensor), count,
                              std::move(readout_tensor)),
          params};
    });
  }
}

// ---- writing --------------------------------------------------------------------------------

/// The file `path` + ".part", renamed onto `path` by commit(); removed if never committed. A
/// ".part" that cannot be created (a missing folder, a folder in the way) is left alone.
class output_file {
 public:
  explicit output_file(const std::filesystem::path& path)
      : name_(path.string()), part_(name_ + ".part") {
    file_ = std::fopen(part_.c_str(), "wb");
    if (!file_)
      throw io_error(
          message("cannot save '", name_, "': cannot create '", part_, "': ", errno_text(errno)));
  }
  ~output_file() {
    if (file_) std::fclose(file_);
    if (!committed_) {
      std::error_code ignored;
      std::filesystem::remove(part_, ignored);
    }
  }
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;

  const std::string& name() const { return name_; }

  void write(const unsigned char* data, std::size_t n) {
    if (n > 0 && std::fwrite(data, 1, n, file_) != n) fail("writing");
  }
  void rewind() {
    if (std::fseek(file_, 0, SEEK_SET) != 0) fail("seeking in");
  }

  /// Flushes the data to the disk, then renames the file into place.
  void commit() {
    if (std::fflush(file_) != 0) fail("writing");
#if defined(ENGRAM_IO_POSIX_SYNC)
    // On the disk before the name points at it: a crash leaves the old file or the new one.
    if (::fsync(::fileno(file_)) != 0) fail("flushing");
#endif
    const int closed = std::fclose(file_);
    file_ = nullptr;
    if (closed != 0) fail("closing");
    std::error_code ec;
    std::filesystem::rename(part_, name_, ec);
    if (ec)
      throw io_error(message("cannot save '", name_, "': renaming '", part_,
                             "' onto it failed: ", ec.message()));
    committed_ = true;
#if defined(ENGRAM_IO_POSIX_SYNC)
    // The rename itself is durable once the folder is; best effort, the file is in place.
    std::filesystem::path folder = std::filesystem::path(name_).parent_path();
    if (folder.empty()) folder = ".";
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
      (void)::fsync(fd);
      ::close(fd);
    }
#endif
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    const int code = errno;
    throw io_error(
        message("cannot save '", name_, "': ", what, " '", part_, "' failed: ", errno_text(code)));
  }

  std::string name_, part_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

/// Encodes numbers little-endian into chunks, keeping the payload's CRC32 and length.
class payload_writer {
 public:
  explicit payload_writer(output_file& out) : out_(out) { buffer_.reserve(chunk_bytes); }

  template <real_scalar Scalar>
  void write(std::string_view name, const Scalar* data, index rows, index cols) {
    const std::uint64_t count = std::uint64_t(rows) * std::uint64_t(cols);
    for (std::uint64_t k = 0; k < count; ++k) {
      const Scalar v = data[k];
      if (!std::isfinite(v))
        throw not_finite(message("cannot save '", out_.name(), "': ", name,
                                 " has a non-finite entry ", v, " at (", k % rows, ", ", k / rows,
                                 ")"));
      unsigned char bytes[sizeof(Scalar)];
      if constexpr (sizeof(Scalar) == 4)
        put_le(bytes, std::bit_cast<std::uint32_t>(v), 4);
      else
        put_le(bytes, std::bit_cast<std::uint64_t>(v), 8);
      buffer_.insert(buffer_.end(), bytes, bytes + sizeof(Scalar));
      if (buffer_.size() >= chunk_bytes) flush();
    }
  }
  template <real_scalar Scalar>
  void write_number(std::string_view name, Scalar v) {
    write(name, &v, 1, 1);
  }

  void flush() {
    crc_ = crc(crc_, buffer_.data(), buffer_.size());
    bytes_ += buffer_.size();
    out_.write(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
  std::uint64_t bytes() const { return bytes_; }
  std::uint32_t crc_value() const { return crc_; }

 private:
  output_file& out_;
  std::vector<unsigned char> buffer_;
  std::uint64_t bytes_ = 0;
  std::uint32_t crc_ = 0;
};

/// Writes the header `h` (its payload fields filled in here) and the payload `body(writer)`.
template <class Body>
void write_file(const std::filesystem::path& path, memory_file_header h, Body&& body) {
  output_file out(path);
  const std::array<unsigned char, header_bytes> placeholder{};
  out.write(placeholder.data(), placeholder.size());
  payload_writer payload(out);
  body(payload);
  payload.flush();
  h.payload_bytes = payload.bytes();
  h.payload_crc = payload.crc_value();
  ENGRAM_ASSERT(h.payload_bytes == payload_numbers(h, out.name()) * h.scalar_bytes);
  const auto header = encode_header(h);
  out.rewind();
  out.write(header.data(), header.size());
  out.commit();
}

template <class Scalar>
memory_file_header header_for(memory_object object, memory_params params) {
  memory_file_header h;
  h.version = format_version;
  h.object = object;
  h.scalar_bytes = sizeof(Scalar);
  h.params = params;
  return h;
}

template <real_scalar Scalar, backend Backend, class Params>
void save_dense(const std::filesystem::path& path, const dense_memory<Scalar, Backend>& memory,
                const Params* params) {
  static_assert(backend_traits<Backend>::host_accessible,
                "save_memory reads the patterns on the host");
  if (params) params->validate();  // before anything is created
  memory_file_header h =
      header_for<Scalar>(memory_object::dense, params ? memory_params::dense : memory_params::none);
  h.dim = std::uint64_t(memory.dim());
  h.patterns = std::uint64_t(memory.size());
  write_file(path, h, [&](payload_writer& out) {
    out.write("patterns", memory.patterns().data(), memory.dim(), memory.size());
    if (params) {
      out.write_number("dense_params.beta", params->beta);
      out.write_number("dense_params.eps", params->eps);
    }
  });
}

template <class FeatureMap, real_scalar Scalar, backend Backend, class Params>
void save_distributed(const std::filesystem::path& path,
                      const distributed_memory<FeatureMap, Scalar, Backend>& memory,
                      const Params* params) {
  using features_type =
      typename memory_traits<distributed_memory<FeatureMap, Scalar, Backend>>::features_type;
  using recipe = feature_recipe<features_type>;
  if (params) params->validate();  // before anything is created
  memory_file_header h = header_for<Scalar>(memory_object::distributed,
                                            params ? memory_params::drdam : memory_params::none);
  const features_type& features = memory.features();
  h.feature_map = std::string(recipe::name);
  h.dim = std::uint64_t(features.dim());
  h.patterns = std::uint64_t(memory.size());
  h.tensor_size = std::uint64_t(features.size());
  h.readout = memory.has_readout();
  bool user = false;
  if constexpr (recipe::random) {
    user = features.projection().user_supplied();
    h.projection = user ? memory_projection::user : memory_projection::seeded;
    h.directions = std::uint64_t(features.count());
    h.tile = std::uint64_t(features.options().tile);
    if (!user) {
      h.seed = features.seed();
      h.orthogonal = features.options().orthogonal;
      h.on_demand = features.options().storage == omega_storage::on_demand;
      h.float_draw = features.options().draw == normal_draw::float_box_muller;
    }
  }
  write_file(path, h, [&](payload_writer& out) {
    out.write_number("beta", features.beta());
    if constexpr (recipe::random)
      if (user) {
        const matrix<Scalar> omega = features.omega();
        out.write("omega", omega.data(), omega.rows(), omega.cols());
        out.write("bias", features.bias().data(), features.bias().size(), 1);
      }
    out.write("the memory tensor T", memory.memory_tensor().data(), memory.memory_tensor().size(),
              1);
    if (h.readout)
      out.write("the readout tensor R", memory.readout_tensor().data(),
                memory.readout_tensor().rows(), memory.readout_tensor().cols());
    if (params) out.write_number("drdam_params.eps", params->eps);
  });
}

}  // namespace memory_file_detail

/// Saves the patterns of `memory` to `path` (replacing any file there only once complete).
template <real_scalar Scalar, backend Backend>
void save_memory(const std::filesystem::path& path, const dense_memory<Scalar, Backend>& memory) {
  memory_file_detail::save_dense(path, memory, static_cast<const dense_params<Scalar>*>(nullptr));
}
/// The same with the parameters of a dense energy over it (dense_params, lsr_params).
template <real_scalar Scalar, backend Backend>
void save_memory(const std::filesystem::path& path, const dense_memory<Scalar, Backend>& memory,
                 const dense_params<Scalar>& params) {
  memory_file_detail::save_dense(path, memory, &params);
}
/// Saves the recipe of `memory`'s feature map, its tensor T, its pattern count and, when it
/// keeps one, its readout tensor R.
template <class FeatureMap, real_scalar Scalar, backend Backend>
void save_memory(const std::filesystem::path& path,
                 const distributed_memory<FeatureMap, Scalar, Backend>& memory) {
  memory_file_detail::save_distributed(path, memory,
                                       static_cast<const drdam_params<Scalar>*>(nullptr));
}
/// The same with the DrDAM energy's eps.
template <class FeatureMap, real_scalar Scalar, backend Backend>
void save_memory(const std::filesystem::path& path,
                 const distributed_memory<FeatureMap, Scalar, Backend>& memory,
                 const drdam_params<Scalar>& params) {
  memory_file_detail::save_distributed(path, memory, &params);
}

/// Loads the memory saved in `path` as `Memory` (see the header for the checks and conversions).
template <class Memory>
Memory load_memory(const std::filesystem::path& path, const load_options& options = {}) {
  return memory_file_detail::load_file<Memory, memory_file_detail::no_params>(path, options).memory;
}
/// Loads a memory saved with parameters: Params is dense_params<Scalar> for a dense_memory,
/// drdam_params<Scalar> for a distributed_memory.
template <class Memory, class Params>
memory_and_params<Memory, Params> load_memory(const std::filesystem::path& path,
                                              const load_options& options = {}) {
  return memory_file_detail::load_file<Memory, Params>(path, options);
}

/// The checked header of the memory file `path`, without reading its payload.
inline memory_file_header read_memory_file_header(const std::filesystem::path& path) {
  memory_file_detail::input_file in(path);
  return memory_file_detail::read_header(in.get(), in.name(), in.size());
}

}  // namespace engram::io
