// Memory files (engram/io/memory_file.hpp): bit-for-bit round trips of dense and distributed
// memories with their energies' parameters and a distributed memory's readout tensor R, the
// documented little-endian layout, float <-> double conversion, refusal of truncated, corrupt,
// newer and oversized files, and atomic writes.
#include <zlib.h>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__unix__)
#include <sys/resource.h>

#include <csignal>
#endif

#include "catch.hpp"
#include "support/files.hpp"
#include "support/support.hpp"

namespace fs = std::filesystem;
namespace io = engram::io;
using Catch::Matchers::Contains;

namespace {

using engram_test::uniform;

using engram_test::read_bytes;
using engram_test::write_bytes;
using temp_dir = engram_test::scratch_dir;

// The layout of version 1, written out here independently of the header under test.
constexpr std::size_t header_size = 104, payload_crc_at = 96, header_crc_at = 100;

std::uint64_t get_le(const std::vector<unsigned char>& b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t(b[at + std::size_t(i)]) << (8 * i);
  return v;
}
void put_le(std::vector<unsigned char>& b, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + std::size_t(i)] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint32_t zlib_crc(const unsigned char* data, std::size_t n) {
  return std::uint32_t(crc32(crc32(0L, Z_NULL, 0), data, uInt(n)));
}
/// Recomputes the CRC32s after a deliberate edit, so that only the edit itself is judged.
void reseal(std::vector<unsigned char>& b) {
  put_le(b, payload_crc_at, zlib_crc(b.data() + header_size, b.size() - header_size), 4);
  put_le(b, header_crc_at, zlib_crc(b.data(), header_crc_at), 4);
}

/// Equal shapes and equal bits (so -0 differs from +0).
template <class A, class B>
bool same_bits(const Eigen::DenseBase<A>& a, const Eigen::DenseBase<B>& b) {
  using Scalar = typename A::Scalar;
  static_assert(std::is_same_v<Scalar, typename B::Scalar>);
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  const engram::matrix<Scalar> x = a, y = b;
  return std::memcmp(x.data(), y.data(), sizeof(Scalar) * std::size_t(x.size())) == 0;
}

template <class Memory>
struct map_of;
template <class Map, class Scalar, class Backend>
struct map_of<engram::distributed_memory<Map, Scalar, Backend>> {
  using type = Map;
};

/// Saves `original` with eps, loads it back, and requires the same memory: tensor, count, map
/// recipe, omega and phases bit for bit, and bitwise equal DrDAM energies and gradients.
template <class Memory, class Scalar = typename Memory::scalar_type>
void require_round_trip(const fs::path& p, Memory& original, std::type_identity_t<Scalar> eps,
                        const std::type_identity_t<engram::matrix<Scalar>>& queries) {
  using Map = typename map_of<Memory>::type;
  io::save_memory(p, original, {eps});
  CHECK_FALSE(fs::exists(p.string() + ".part"));
  auto [loaded, params] = io::load_memory<Memory, io::drdam_params<Scalar>>(p);
  CHECK(params.eps == eps);
  CHECK(loaded.size() == original.size());
  CHECK(loaded.dim() == original.dim());
  CHECK(same_bits(loaded.memory_tensor(), original.memory_tensor()));
  const auto& a = original.features();
  const auto& b = loaded.features();
  CHECK(b.beta() == a.beta());
  if constexpr (requires { a.projection(); }) {
    CHECK(b.count() == a.count());
    CHECK(b.seed() == a.seed());
    CHECK(b.projection().user_supplied() == a.projection().user_supplied());
    CHECK(b.options().orthogonal == a.options().orthogonal);
    CHECK(b.options().storage == a.options().storage);
    CHECK(b.options().tile == a.options().tile);
    CHECK(same_bits(b.omega(), a.omega()));
    CHECK(same_bits(b.bias(), a.bias()));
  }
  {
    const engram::drdam_energy<Map, Scalar> before(original, eps), after(loaded, params.eps);
    const auto [e1, g1] = before.value_and_gradient(queries);
    const auto [e2, g2] = after.value_and_gradient(queries);
    // Not vacuous: the similarities are above the clip, so energies and gradients carry the
    // map's numbers rather than the eps floor and zeros.
    CHECK((e1.array() < -std::log(eps) / a.beta()).all());
    CHECK(g1.cwiseAbs().maxCoeff() > 0);
    CHECK(same_bits(e2, e1));
    CHECK(same_bits(g2, g1));
  }
  // The rebuilt map encodes new patterns exactly as the original does.
  const engram::matrix<Scalar> more = queries.leftCols(1);
  original.add(more);
  loaded.add(more);
  CHECK(same_bits(loaded.memory_tensor(), original.memory_tensor()));
}

}  // namespace

TEMPLATE_TEST_CASE("dense memories and their parameters round trip bit for bit",
                   "[io][persistence]", float, double) {
  using S = TestType;
  using memory_type = engram::dense_memory<S>;
  temp_dir dir("dense");
  engram::matrix<S> patterns = uniform<S>(engram::philox_source(1), 0, 7, 5, S(-2), S(2));
  // Bits a careless writer loses: the sign of zero, subnormals, and a value no decimal print
  // of 6 digits restores.
  patterns(0, 0) = S(-0.0);
  patterns(1, 0) = std::numeric_limits<S>::denorm_min();
  patterns(2, 0) = std::numeric_limits<S>::min();
  patterns(3, 0) = S(1) / S(3);
  const memory_type memory(patterns);
  const fs::path p = dir.path / "dense.engram";
  io::save_memory(p, memory);
  CHECK_FALSE(fs::exists(p.string() + ".part"));
  CHECK(fs::file_size(p) == header_size + 35 * sizeof(S));  // a header and D K numbers
  const auto loaded = io::load_memory<memory_type>(p);
  CHECK(loaded.dim() == 7);
  CHECK(loaded.size() == 5);
  CHECK(same_bits(loaded.patterns(), patterns));
  CHECK(std::signbit(loaded.patterns()(0, 0)));
  CHECK(same_bits(loaded.half_squared_norms(), memory.half_squared_norms()));

  // An empty memory keeps its dimension.
  io::save_memory(dir.path / "empty.engram", memory_type(3));
  const auto empty = io::load_memory<memory_type>(dir.path / "empty.engram");
  CHECK(empty.dim() == 3);
  CHECK(empty.empty());

  // With the parameters of an energy over it: the energies of the reloaded pair are the same bits.
  const engram::dense_params<S> params{.beta = S(6.5), .eps = S(0.125)};
  io::save_memory(dir.path / "lse.engram", memory, params);
  const auto saved = io::load_memory<memory_type, engram::dense_params<S>>(dir.path / "lse.engram");
  CHECK(saved.params.beta == params.beta);
  CHECK(saved.params.eps == params.eps);
  const engram::matrix<S> queries = uniform<S>(engram::philox_source(2), 0, 7, 4, S(-1), S(1));
  {
    const auto e1 = engram::lse_energy<S>(memory, params).value_and_gradient(queries);
    const auto e2 = engram::lse_energy<S>(saved.memory, saved.params).value_and_gradient(queries);
    CHECK(same_bits(e2.value, e1.value));
    CHECK(same_bits(e2.gradient, e1.gradient));
  }
  // lsr_params is dense_params: the LSR energy's parameters are saved the same way.
  const engram::lsr_params<S> lsr{.beta = S(400), .eps = S(0)};
  io::save_memory(dir.path / "lsr.engram", memory, lsr);
  const auto [lsr_memory, lsr_loaded] =
      io::load_memory<memory_type, engram::lsr_params<S>>(dir.path / "lsr.engram");
  CHECK(lsr_loaded.beta == S(400));
  CHECK(lsr_loaded.eps == S(0));
  // A file with parameters loads as a bare memory too; one without cannot supply them.
  CHECK(same_bits(io::load_memory<memory_type>(dir.path / "lse.engram").patterns(), patterns));
  REQUIRE_THROWS_AS((io::load_memory<memory_type, engram::dense_params<S>>(p)),
                    engram::parse_error);
  REQUIRE_THROWS_WITH((io::load_memory<memory_type, engram::dense_params<S>>(p)),
                      Contains(p.string()) && Contains("holds no parameters") &&
                          Contains("dense_params were requested"));
}

TEST_CASE("memory files have the documented little-endian layout", "[io][persistence]") {
  temp_dir dir("layout");
  Eigen::MatrixXd patterns(2, 1);
  patterns << 1.5, -2.0;
  const fs::path p = dir.path / "layout.engram";
  io::save_memory(p, engram::dense_memory<double>(patterns),
                  engram::dense_params<double>{.beta = 3.0, .eps = 0.25});
  const std::vector<unsigned char> b = read_bytes(p);
  REQUIRE(b.size() == header_size + 4 * 8);
  const std::vector<unsigned char> magic = {0x89, 'E', 'N', 'G', 'R', 'A', 'M', '\n'};
  CHECK(std::vector<unsigned char>(b.begin(), b.begin() + 8) == magic);
  CHECK(get_le(b, 8, 4) == 1);     // version
  CHECK(get_le(b, 12, 4) == 104);  // header bytes
  CHECK(b[16] == 1);               // dense_memory
  CHECK(b[17] == 8);               // double
  CHECK(b[18] == 1);               // dense_params
  CHECK(get_le(b, 40, 8) == 2);    // D
  CHECK(get_le(b, 48, 8) == 1);    // K
  CHECK(get_le(b, 88, 8) == 32);   // payload bytes
  // IEEE binary64 little-endian, whatever the host: 1.5 = 0x3FF8000000000000, -2 =
  // 0xC000000000000000, 3 = 0x4008000000000000, 0.25 = 0x3FD0000000000000.
  const std::vector<unsigned char> payload = {0,    0,    0, 0, 0,    0, 0xF8, 0x3F, 0,    0,   0,
                                              0,    0,    0, 0, 0xC0, 0, 0,    0,    0,    0,   0,
                                              0x08, 0x40, 0, 0, 0,    0, 0,    0,    0xD0, 0x3F};
  CHECK(std::vector<unsigned char>(b.begin() + header_size, b.end()) == payload);
  CHECK(get_le(b, payload_crc_at, 4) == zlib_crc(b.data() + header_size, 32));
  CHECK(get_le(b, header_crc_at, 4) == zlib_crc(b.data(), header_crc_at));

  // binary32 for float: 1.5f = 0x3FC00000.
  Eigen::MatrixXf one(1, 1);
  one << 1.5f;
  io::save_memory(dir.path / "float.engram", engram::dense_memory<float>(one));
  const std::vector<unsigned char> f = read_bytes(dir.path / "float.engram");
  REQUIRE(f.size() == header_size + 4);
  CHECK(f[17] == 4);
  CHECK(std::vector<unsigned char>(f.begin() + header_size, f.end()) ==
        std::vector<unsigned char>{0, 0, 0xC0, 0x3F});

  // A distributed memory's header names its map and its drawn projection.
  const engram::random_features<engram::exp_exp_features, double> phi(
      5, 96, 2.0, 77,
      {.orthogonal = true, .storage = engram::omega_storage::on_demand, .tile = 16});
  const engram::distributed_memory<engram::exp_exp_features, double> tensor(
      phi, uniform<double>(3, 5, 4, 0.0, 0.3));
  io::save_memory(dir.path / "tensor.engram", tensor);
  const std::vector<unsigned char> t = read_bytes(dir.path / "tensor.engram");
  CHECK(std::string(reinterpret_cast<const char*>(&t[24])) == "exp_exp");
  CHECK(t[16] == 2);  // distributed_memory
  CHECK(t[19] == 1);  // drawn from a seed
  CHECK(t[20] == 7);  // orthogonal, on demand, the float draw
  CHECK(t[21] == 0);  // no readout tensor R
  const io::memory_file_header h = io::read_memory_file_header(dir.path / "tensor.engram");
  CHECK(h.version == 1);
  CHECK(h.object == io::memory_object::distributed);
  CHECK(h.scalar_bytes == 8);
  CHECK(h.feature_map == "exp_exp");
  CHECK(h.projection == io::memory_projection::seeded);
  CHECK(h.orthogonal);
  CHECK(h.on_demand);
  CHECK(h.float_draw);
  CHECK(h.dim == 5);
  CHECK(h.patterns == 4);
  CHECK(h.directions == 96);
  CHECK(h.tensor_size == 192);  // F = 2 Y
  CHECK(h.tile == 20);          // 16 rounded up to whole orthogonal blocks of D = 5
  CHECK(h.seed == 77);
  CHECK(h.params == io::memory_params::none);
  CHECK(h.payload_bytes == (1 + 192) * 8);  // beta and T
}

TEST_CASE("a drawn projection's normal draw is in the file, and files from before load as before",
          "[io][persistence][drdam]") {
  temp_dir dir("draw");
  using memory_type = engram::distributed_memory<engram::cos_features, double>;
  using features = engram::random_features<engram::cos_features, double>;
  const engram::matrix<double> xi = uniform<double>(50, 4, 3, 0.0, 0.4);
  // A map drawn with double Box-Muller pairs, as every drawn map was before the float draw:
  // its file has bit 2 of byte 20 clear, byte for byte a file of then, and loads with the
  // same directions (the double stream's entry a D + d at (a, d)).
  const features old_map(4, 40, 2.0, 51, {.draw = engram::normal_draw::double_box_muller});
  io::save_memory(dir.path / "old.engram", memory_type(old_map, xi));
  std::vector<unsigned char> b = read_bytes(dir.path / "old.engram");
  CHECK(b[20] == 0);
  const auto old_loaded = io::load_memory<memory_type>(dir.path / "old.engram");
  CHECK(old_loaded.features().options().draw == engram::normal_draw::double_box_muller);
  CHECK(same_bits(old_loaded.features().omega(), old_map.omega()));
  CHECK(old_loaded.features().omega()(5, 2) == engram::philox_source(51).normal<double>(0, 22));
  // The default float draw sets it, and loads as the float draw.
  io::save_memory(dir.path / "new.engram", memory_type(features(4, 40, 2.0, 51), xi));
  b = read_bytes(dir.path / "new.engram");
  CHECK(b[20] == 4);
  const auto new_loaded = io::load_memory<memory_type>(dir.path / "new.engram");
  CHECK(new_loaded.features().options().draw == engram::normal_draw::float_box_muller);
  CHECK(same_bits(new_loaded.features().omega(), features(4, 40, 2.0, 51).omega()));
  CHECK_FALSE(new_loaded.features().omega() == old_map.omega());
  // A flag bit beyond the three known is refused, as is any flag on a user's projection.
  const fs::path bad = dir.path / "bad.engram";
  b[20] = 8 | 4;
  reseal(b);
  write_bytes(bad, b);
  REQUIRE_THROWS_AS(io::load_memory<memory_type>(bad), engram::parse_error);
  REQUIRE_THROWS_WITH(io::load_memory<memory_type>(bad),
                      Contains(bad.string()) && Contains("unknown projection flags code 12"));
  io::save_memory(bad, memory_type(features(engram::gaussian_projection<double>(
                                                old_map.omega(), engram::vector<double>()),
                                            2.0),
                                   xi));
  b = read_bytes(bad);
  CHECK(b[20] == 0);
  b[20] = 4;
  reseal(b);
  write_bytes(bad, b);
  REQUIRE_THROWS_WITH(io::load_memory<memory_type>(bad),
                      Contains("a projection given by the user with a seed or drawing flags"));
}

TEST_CASE("distributed memories round trip with bitwise equal DrDAM energies",
          "[io][persistence][drdam]") {
  temp_dir dir("distributed");
  using engram::omega_storage;
  SECTION("sincos, double, drawn and materialised") {
    const engram::matrix<double> xi = uniform<double>(10, 6, 5, 0.0, 0.4);
    engram::distributed_memory<engram::sincos_features, double> memory(
        engram::random_features<engram::sincos_features, double>(6, 200, 4.0, 11), xi);
    require_round_trip(dir.path / "sincos.engram", memory, 1e-5, (xi.array() + 0.01).matrix());
  }
  SECTION("exp_exp, float, orthogonal and on demand over several tiles") {
    const engram::matrix<float> xi = uniform<float>(engram::philox_source(12), 0, 5, 6, 0.f, 0.3f);
    engram::distributed_memory<engram::exp_exp_features, float> memory(
        engram::random_features<engram::exp_exp_features, float>(
            5, 96, 2.f, 12, {.orthogonal = true, .storage = omega_storage::on_demand, .tile = 16}),
        xi);
    require_round_trip(dir.path / "exp_exp.engram", memory, 1e-4f, engram::matrix<float>(xi));
  }
  SECTION("exp, double, orthogonal and materialised") {
    const engram::matrix<double> xi = uniform<double>(13, 4, 3, 0.0, 0.5);
    engram::distributed_memory<engram::exp_features, double> memory(
        engram::random_features<engram::exp_features, double>(4, 50, 3.0, 13,
                                                              {.orthogonal = true, .tile = 8}),
        xi);
    require_round_trip(dir.path / "exp.engram", memory, 1e-5, xi * 0.9);
  }
  SECTION("cos with a projection given by the user, double and float") {
    const engram::matrix<double> omega = uniform<double>(14, 64, 6, -2.0, 2.0);
    const engram::vector<double> bias = uniform<double>(15, 64, 1, 0.0, 2 * std::numbers::pi);
    const engram::matrix<double> xi = uniform<double>(16, 6, 4, 0.0, 0.4);
    engram::distributed_memory<engram::cos_features, double> memory(
        engram::random_features<engram::cos_features, double>(
            engram::gaussian_projection<double>(omega, bias, 24), 2.0),
        xi);
    require_round_trip(dir.path / "cos_user.engram", memory, 1e-5, (xi.array() + 0.02).matrix());
    // The user's numbers are stored as given: F = Y, plus beta, omega and b.
    CHECK(io::read_memory_file_header(dir.path / "cos_user.engram").payload_bytes ==
          (1 + 64 * 6 + 64 + 64 + 1) * 8);

    engram::distributed_memory<engram::sincos_features, float> narrow(
        engram::random_features<engram::sincos_features, float>(
            engram::gaussian_projection<float>(omega.cast<float>(), engram::vector<float>()), 2.f),
        xi.cast<float>());
    require_round_trip(dir.path / "sincos_user.engram", narrow, 1e-4f,
                       engram::matrix<float>(xi.cast<float>()));
  }
  SECTION("the exact quadratic map") {
    const engram::matrix<double> xi = uniform<double>(17, 2, 5, 0.7, 1.0);
    engram::distributed_memory<engram::quadratic_features<double>, double> memory(
        engram::quadratic_features<double>(2.5), xi);
    require_round_trip(dir.path / "quadratic.engram", memory, 1e-5, xi * 0.95);
  }
}

TEMPLATE_TEST_CASE("a distributed memory's readout tensor R round trips bit for bit",
                   "[io][persistence][drdam][readout]", float, double) {
  using S = TestType;
  using memory_type = engram::distributed_memory<engram::sincos_features, S>;
  temp_dir dir("readout");
  const engram::random_features<engram::sincos_features, S> map(3, 8, S(2), 41);  // F = 16
  const engram::matrix<S> xi = uniform<S>(engram::philox_source(42), 0, 3, 4, S(0), S(0.4));
  memory_type memory(map, xi, engram::readout::keep);
  REQUIRE(memory.has_readout());
  const S eps = S(1) / S(1024);
  const fs::path p = dir.path / "readout.engram";
  io::save_memory(p, memory, {eps});
  CHECK_FALSE(fs::exists(p.string() + ".part"));
  // beta, T (16), R (16 x 3), eps; byte 21 says R follows T.
  const std::vector<unsigned char> b = read_bytes(p);
  REQUIRE(b.size() == header_size + (1 + 16 + 48 + 1) * sizeof(S));
  CHECK(b[21] == 1);
  CHECK(io::read_memory_file_header(p).readout);
  // R, column-major, right after T: its first and last entries' bits.
  using bits = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
  const std::size_t r_at = header_size + (1 + 16) * sizeof(S);
  CHECK(get_le(b, r_at, sizeof(S)) == std::bit_cast<bits>(memory.readout_tensor()(0, 0)));
  CHECK(get_le(b, r_at + 47 * sizeof(S), sizeof(S)) ==
        std::bit_cast<bits>(memory.readout_tensor()(15, 2)));

  auto [loaded, params] = io::load_memory<memory_type, io::drdam_params<S>>(p);
  CHECK(params.eps == eps);
  CHECK(loaded.size() == 4);
  REQUIRE(loaded.has_readout());
  CHECK(same_bits(loaded.memory_tensor(), memory.memory_tensor()));
  CHECK(same_bits(loaded.readout_tensor(), memory.readout_tensor()));
  {
    const engram::drdam_energy<engram::sincos_features, S> before(memory, eps), after(loaded, eps);
    const engram::matrix<S> q = (xi.array() + S(0.01)).matrix();
    const engram::matrix<S> g = before.readout_gradient(q);
    CHECK(g.cwiseAbs().maxCoeff() > 0);
    CHECK(same_bits(after.readout_gradient(q), g));
  }
  // The loaded memory goes on updating R as the original does.
  const engram::matrix<S> more = xi.leftCols(1);
  memory.add(more);
  loaded.add(more);
  CHECK(same_bits(loaded.readout_tensor(), memory.readout_tensor()));
  CHECK(io::load_memory<memory_type>(p).has_readout());  // without the parameters too

  // An empty memory that keeps R keeps its zero R.
  io::save_memory(dir.path / "empty.engram", memory_type(map, engram::readout::keep));
  const auto empty = io::load_memory<memory_type>(dir.path / "empty.engram");
  CHECK(empty.empty());
  REQUIRE(empty.has_readout());
  CHECK(same_bits(empty.readout_tensor(), engram::matrix<S>::Zero(16, 3)));

  // A memory without R: byte 21 is 0, the payload is beta and T as before, and it loads without R.
  const fs::path plain = dir.path / "plain.engram";
  io::save_memory(plain, memory_type(map, xi));
  const std::vector<unsigned char> c = read_bytes(plain);
  CHECK(c.size() == header_size + (1 + 16) * sizeof(S));
  CHECK(c[21] == 0);
  CHECK_FALSE(io::read_memory_file_header(plain).readout);
  const auto without = io::load_memory<memory_type>(plain);
  CHECK_FALSE(without.has_readout());
  CHECK(same_bits(without.memory_tensor(), memory_type(map, xi).memory_tensor()));
}

TEST_CASE("the readout tensor R converts between float and double like T",
          "[io][persistence][conversion][readout]") {
  temp_dir dir("readout_conversion");
  using cos_double = engram::distributed_memory<engram::cos_features, double>;
  using cos_float = engram::distributed_memory<engram::cos_features, float>;
  const engram::matrix<double> xi = uniform<double>(43, 3, 4, 0.0, 0.4);
  const cos_double memory(engram::random_features<engram::cos_features, double>(3, 4, 1.0, 44), xi,
                          engram::readout::keep);  // F = 4, R is 4 x 3
  const fs::path p = dir.path / "double.engram";
  io::save_memory(p, memory);
  const auto narrow = io::load_memory<cos_float>(p);
  REQUIRE(narrow.has_readout());
  CHECK(narrow.readout_tensor() == memory.readout_tensor().cast<float>());
  CHECK(narrow.memory_tensor() == memory.memory_tensor().cast<float>());
  // float -> double is exact.
  io::save_memory(dir.path / "float.engram", narrow);
  const auto wide = io::load_memory<cos_double>(dir.path / "float.engram");
  REQUIRE(wide.has_readout());
  CHECK(wide.readout_tensor() == narrow.readout_tensor().cast<double>());
  // An entry of R beyond float, written into a sound file: refused as float, naming the entry.
  std::vector<unsigned char> b = read_bytes(p);
  put_le(b, header_size + (1 + 4 + 6) * 8, std::bit_cast<std::uint64_t>(-1e300), 8);  // R(2, 1)
  reseal(b);
  const fs::path edited = dir.path / "edited.engram";
  write_bytes(edited, b);
  CHECK(io::load_memory<cos_double>(edited).readout_tensor()(2, 1) == -1e300);
  REQUIRE_THROWS_AS(io::load_memory<cos_float>(edited), io::conversion_error);
  REQUIRE_THROWS_WITH(io::load_memory<cos_float>(edited), Contains(edited.string()) &&
                                                              Contains("the readout tensor R") &&
                                                              Contains("at (2, 1)"));
}

TEST_CASE("the readout byte and R are checked like the rest of the file",
          "[io][persistence][errors][readout]") {
  temp_dir dir("readout_errors");
  using memory_type = engram::distributed_memory<engram::cos_features, double>;
  const engram::random_features<engram::cos_features, double> map(3, 4, 1.0, 45);  // F = 4
  const fs::path good = dir.path / "good.engram";
  io::save_memory(good, memory_type(map, uniform<double>(46, 3, 2), engram::readout::keep));
  const std::vector<unsigned char> bytes = read_bytes(good);
  REQUIRE(bytes.size() == header_size + (1 + 4 + 12) * 8);  // beta, T, R
  const std::size_t r_at = header_size + 5 * 8;
  const fs::path bad = dir.path / "bad.engram";
  const auto load = [&] { return io::load_memory<memory_type>(bad); };

  SECTION("a readout byte of 2, or set for a dense memory or for a payload without R") {
    std::vector<unsigned char> b = bytes;
    b[21] = 2;
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("unknown readout code 2"));

    io::save_memory(bad, engram::dense_memory<double>(uniform<double>(47, 3, 2)));
    b = read_bytes(bad);
    b[21] = 1;
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(io::load_memory<engram::dense_memory<double>>(bad), engram::parse_error);
    REQUIRE_THROWS_WITH(
        io::load_memory<engram::dense_memory<double>>(bad),
        Contains(bad.string()) && Contains("dense_memory") && Contains("readout flag (byte 21)"));

    io::save_memory(bad, memory_type(map, uniform<double>(46, 3, 2)));  // no R
    b = read_bytes(bad);
    b[21] = 1;
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("payload is declared as 40") &&
                                    Contains("need 136"));
  }
  SECTION("a truncated R") {
    for (std::size_t length : {r_at, r_at + 12, bytes.size() - 1}) {
      INFO("truncated to " << length << " bytes");
      write_bytes(bad, std::vector<unsigned char>(bytes.begin(), bytes.begin() + long(length)));
      REQUIRE_THROWS_AS(load(), engram::parse_error);
      REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("truncated"));
    }
  }
  SECTION("a corrupt or non-finite R") {
    std::vector<unsigned char> b = bytes;
    b[r_at + 5 * 8 + 3] ^= 0x04;
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(),
                        Contains(bad.string()) && Contains("corrupt payload") && Contains("CRC32"));
    b = bytes;
    put_le(b, r_at + 5 * 8, std::bit_cast<std::uint64_t>(std::numeric_limits<double>::infinity()),
           8);
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("non-finite") &&
                                    Contains("the readout tensor R") && Contains("(1, 1)"));
  }
  SECTION("R counts against max_bytes, and its size against 64 bits") {
    // Loaded: beta, T (4), R (12), and the drawn map's phases (4) and omega (4 x 3): 33 doubles.
    CHECK_THROWS_WITH(io::load_memory<memory_type>(good, {.max_bytes = 263}),
                      Contains("needs 264 bytes") && Contains("max_bytes = 263"));
    CHECK(io::load_memory<memory_type>(good, {.max_bytes = 264}).has_readout());
    // D = 2^33 and F = Y = 2^32: T fits 64 bits, R = F x D does not.
    std::vector<unsigned char> b = bytes;
    put_le(b, 40, std::uint64_t(1) << 33, 8);
    put_le(b, 56, std::uint64_t(1) << 32, 8);
    put_le(b, 64, std::uint64_t(1) << 32, 8);
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("overflows 64 bits") &&
                                    Contains("4294967296 x 8589934592"));
  }
}

TEST_CASE("float files load as double exactly", "[io][persistence][conversion]") {
  temp_dir dir("widen");
  Eigen::MatrixXf patterns(2, 2);
  patterns << 0.1f, std::numeric_limits<float>::denorm_min(), -1.f / 3.f, 1.0e18f;
  io::save_memory(dir.path / "float.engram", engram::dense_memory<float>(patterns),
                  engram::dense_params<float>{.beta = 0.3f, .eps = 0.f});
  const auto [wide, params] =
      io::load_memory<engram::dense_memory<double>, engram::dense_params<double>>(dir.path /
                                                                                  "float.engram");
  // The float nearest 0.1 and the smallest subnormal, written out in decimal.
  CHECK(wide.patterns()(0, 0) == 0.100000001490116119384765625);
  CHECK(wide.patterns()(0, 1) == 0x1p-149);
  CHECK(wide.patterns() == patterns.cast<double>());
  CHECK(params.beta == 0.300000011920928955078125);

  // A drawn projection is regenerated in double: the map equals one built in double from the
  // same seed, and T is the float tensor, widened.
  const engram::matrix<float> xi = uniform<float>(engram::philox_source(20), 0, 6, 5, 0.f, 0.4f);
  const engram::distributed_memory<engram::sincos_features, float> tensor(
      engram::random_features<engram::sincos_features, float>(6, 128, 3.f, 21), xi);
  io::save_memory(dir.path / "tensor.engram", tensor);
  const auto loaded = io::load_memory<engram::distributed_memory<engram::sincos_features, double>>(
      dir.path / "tensor.engram");
  CHECK(loaded.memory_tensor() == tensor.memory_tensor().cast<double>());
  CHECK(loaded.size() == 5);
  CHECK(loaded.features().beta() == 3.0);
  const engram::random_features<engram::sincos_features, double> same_seed(6, 128, 3.0, 21);
  CHECK(same_bits(loaded.features().omega(), same_seed.omega()));
  // Its energies are those of a double memory of the same patterns up to float rounding of T:
  // 5 patterns' features of size 1/sqrt(128) summed in float, ~1e-7 relative.
  const engram::distributed_memory<engram::sincos_features, double> direct(same_seed,
                                                                           xi.cast<double>());
  const engram::drdam_energy<engram::sincos_features, double> e_loaded(loaded), e_direct(direct);
  const engram::matrix<double> q = xi.cast<double>();
  CHECK((e_loaded.value(q) - e_direct.value(q)).cwiseAbs().maxCoeff() < 1e-5);

  // A user's float omega widens exactly.
  const engram::matrix<float> omega =
      uniform<float>(engram::philox_source(22), 0, 16, 6, -1.f, 1.f);
  const engram::distributed_memory<engram::cos_features, float> user(
      engram::random_features<engram::cos_features, float>(
          engram::gaussian_projection<float>(omega, engram::vector<float>()), 1.f),
      xi);
  io::save_memory(dir.path / "user.engram", user);
  const auto user_wide = io::load_memory<engram::distributed_memory<engram::cos_features, double>>(
      dir.path / "user.engram");
  CHECK(user_wide.features().omega() == omega.cast<double>());
  CHECK(user_wide.features().projection().user_supplied());
}

TEST_CASE("double files load as float rounded to nearest", "[io][persistence][conversion]") {
  temp_dir dir("narrow");
  Eigen::MatrixXd patterns(8, 1);
  patterns << 0.1,            // the float nearest 0.1
      1 + 0x1p-24,            // halfway between 1 and 1 + 2^-23: to even, 1
      1 + 3 * 0x1p-24,        // halfway between 1 + 2^-23 and 1 + 2^-22: to even
      1 + 0x1p-24 + 0x1p-40,  // just above halfway: up
      0x1p-140 + 0x1p-150,    // a subnormal and half a step: to even, 2^-140
      0x1p-151,               // under half the smallest subnormal: +0
      -0x1p-151,              // -0
      -(1 + 0x1p-24);         // -1
  // beta just under the midpoint between float's largest number and 2^128 rounds to the largest.
  const double beta = double(std::numeric_limits<float>::max()) + 0x1p102;
  io::save_memory(dir.path / "double.engram", engram::dense_memory<double>(patterns),
                  engram::dense_params<double>{.beta = beta, .eps = 0x1p-151});
  const auto [narrow, params] =
      io::load_memory<engram::dense_memory<float>, engram::dense_params<float>>(dir.path /
                                                                                "double.engram");
  const Eigen::VectorXf p = narrow.patterns().col(0);
  CHECK(p(0) == 0.1f);
  CHECK(p(1) == 1.f);
  CHECK(p(2) == 1.f + 0x1p-22f);
  CHECK(p(3) == 1.f + 0x1p-23f);
  CHECK(p(4) == 0x1p-140f);
  CHECK(p(5) == 0.f);
  CHECK_FALSE(std::signbit(p(5)));
  CHECK(p(6) == 0.f);
  CHECK(std::signbit(p(6)));
  CHECK(p(7) == -1.f);
  CHECK(params.beta == std::numeric_limits<float>::max());
  CHECK(params.eps == 0.f);

  // A distributed memory: T rounds entry by entry, the drawn map is regenerated in float.
  const engram::matrix<double> xi = uniform<double>(30, 6, 5, 0.0, 0.4);
  const engram::distributed_memory<engram::cos_features, double> tensor(
      engram::random_features<engram::cos_features, double>(
          6, 100, 2.0, 31, {.storage = engram::omega_storage::on_demand, .tile = 32}),
      xi);
  io::save_memory(dir.path / "tensor.engram", tensor, {0x1p-16});
  const auto [loaded, eps] =
      io::load_memory<engram::distributed_memory<engram::cos_features, float>,
                      io::drdam_params<float>>(dir.path / "tensor.engram");
  CHECK(loaded.memory_tensor() == tensor.memory_tensor().cast<float>());
  CHECK(eps.eps == 0x1p-16f);
  const engram::random_features<engram::cos_features, float> same_seed(
      6, 100, 2.f, 31, {.storage = engram::omega_storage::on_demand, .tile = 32});
  CHECK(same_bits(loaded.features().omega(), same_seed.omega()));
  CHECK(same_bits(loaded.features().bias(), same_seed.bias()));
  CHECK(loaded.features().options().storage == engram::omega_storage::on_demand);
}

TEST_CASE("double numbers beyond float are refused when loading as float",
          "[io][persistence][conversion][errors]") {
  temp_dir dir("beyond");
  using float_memory = engram::dense_memory<float>;
  Eigen::MatrixXd patterns = Eigen::MatrixXd::Zero(3, 4);
  patterns(1, 2) = 2.0 * double(std::numeric_limits<float>::max());
  const fs::path huge = dir.path / "huge.engram";
  io::save_memory(huge, engram::dense_memory<double>(patterns));
  REQUIRE_THROWS_AS(io::load_memory<float_memory>(huge), io::conversion_error);
  REQUIRE_THROWS_WITH(io::load_memory<float_memory>(huge),
                      Contains(huge.string()) && Contains("patterns has 6.8") &&
                          Contains("at (1, 2)") && Contains("load it as double"));
  CHECK(io::load_memory<engram::dense_memory<double>>(huge).patterns() == patterns);

  // The midpoint 2^128 - 2^103 itself rounds (ties to even) to infinity: refused.
  const fs::path midpoint = dir.path / "midpoint.engram";
  io::save_memory(midpoint, engram::dense_memory<double>(Eigen::MatrixXd::Ones(2, 1)),
                  engram::dense_params<double>{.beta = 0x1p128 - 0x1p103, .eps = 0});
  REQUIRE_THROWS_AS((io::load_memory<float_memory, engram::dense_params<float>>(midpoint)),
                    io::conversion_error);
  REQUIRE_THROWS_WITH((io::load_memory<float_memory, engram::dense_params<float>>(midpoint)),
                      Contains(midpoint.string()) && Contains("dense_params.beta"));

  // Each entry fits float, but a squared norm does not: the float memory refuses it.
  const fs::path norm = dir.path / "norm.engram";
  io::save_memory(norm, engram::dense_memory<double>(Eigen::MatrixXd::Constant(2, 1, 1e20)));
  REQUIRE_THROWS_AS(io::load_memory<float_memory>(norm), io::conversion_error);
  REQUIRE_THROWS_WITH(io::load_memory<float_memory>(norm),
                      Contains(norm.string()) && Contains("squared norm"));

  // A tensor entry beyond float, written into a sound file.
  const engram::distributed_memory<engram::cos_features, double> tensor(
      engram::random_features<engram::cos_features, double>(3, 8, 1.0, 5),
      uniform<double>(32, 3, 2));
  const fs::path edited = dir.path / "tensor.engram";
  io::save_memory(edited, tensor);
  std::vector<unsigned char> b = read_bytes(edited);
  put_le(b, header_size + 8 + 3 * 8, std::bit_cast<std::uint64_t>(1e300), 8);  // beta, T(0..2)
  reseal(b);
  write_bytes(edited, b);
  using cos_double = engram::distributed_memory<engram::cos_features, double>;
  using cos_float = engram::distributed_memory<engram::cos_features, float>;
  CHECK(io::load_memory<cos_double>(edited).memory_tensor()(3) == 1e300);
  REQUIRE_THROWS_AS(io::load_memory<cos_float>(edited), io::conversion_error);
  REQUIRE_THROWS_WITH(io::load_memory<cos_float>(edited), Contains(edited.string()) &&
                                                              Contains("the memory tensor T") &&
                                                              Contains("at (3, 0)"));

  // Conversion can be refused altogether.
  const io::load_options exact{.allow_conversion = false};
  REQUIRE_THROWS_AS(io::load_memory<float_memory>(norm, exact), io::conversion_error);
  REQUIRE_THROWS_WITH(io::load_memory<float_memory>(norm, exact),
                      Contains(norm.string()) && Contains("holds double numbers") &&
                          Contains("allow_conversion is false"));
}

TEST_CASE("truncated, corrupt and mismatched files raise typed errors naming the file",
          "[io][persistence][errors]") {
  temp_dir dir("corrupt");
  using memory_type = engram::dense_memory<double>;
  using with_params = engram::dense_params<double>;
  const fs::path good = dir.path / "good.engram";
  io::save_memory(good, memory_type(uniform<double>(40, 4, 3)), with_params{.beta = 2, .eps = 0});
  const std::vector<unsigned char> bytes = read_bytes(good);
  REQUIRE(bytes.size() == header_size + 14 * 8);  // 12 patterns, beta, eps
  const fs::path bad = dir.path / "bad.engram";
  const auto load = [&] { return io::load_memory<memory_type, with_params>(bad); };

  SECTION("truncated anywhere") {
    for (std::size_t length : {std::size_t(0), std::size_t(5), std::size_t(12), std::size_t(50),
                               header_size - 1, header_size, header_size + 7, bytes.size() - 1}) {
      INFO("truncated to " << length << " bytes");
      write_bytes(bad, std::vector<unsigned char>(bytes.begin(), bytes.begin() + long(length)));
      REQUIRE_THROWS_AS(load(), engram::parse_error);
      REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("truncated"));
    }
  }
  SECTION("a flipped byte in the header or the payload") {
    for (std::size_t at : {std::size_t(17), std::size_t(45), std::size_t(90), std::size_t(99)}) {
      INFO("header byte " << at);
      std::vector<unsigned char> b = bytes;
      b[at] ^= 0x10;
      write_bytes(bad, b);
      REQUIRE_THROWS_AS(load(), engram::parse_error);
      REQUIRE_THROWS_WITH(
          load(), Contains(bad.string()) && Contains("corrupt header") && Contains("CRC32"));
    }
    // A damaged version field is corruption, not a newer file.
    std::vector<unsigned char> b = bytes;
    b[8] = 7;
    write_bytes(bad, b);
    REQUIRE_THROWS_WITH(load(), Contains("corrupt header"));
    for (std::size_t at : {header_size, header_size + 50, bytes.size() - 1}) {
      INFO("payload byte " << at);
      b = bytes;
      b[at] ^= 0x01;
      write_bytes(bad, b);
      REQUIRE_THROWS_AS(load(), engram::parse_error);
      REQUIRE_THROWS_WITH(
          load(), Contains(bad.string()) && Contains("corrupt payload") && Contains("CRC32"));
    }
  }
  SECTION("wrong magic") {
    std::vector<unsigned char> b = bytes;
    b[1] = 'X';
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("not an engram memory file"));
    write_bytes(bad, {'h', 'e', 'l', 'l', 'o'});
    REQUIRE_THROWS_WITH(load(), Contains("not an engram memory file"));
  }
  SECTION("a newer format version") {
    std::vector<unsigned char> b = bytes;
    put_le(b, 8, 2, 4);
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(
        load(), Contains(bad.string()) && Contains("format version 2") && Contains("newer"));
  }
  SECTION("trailing bytes") {
    std::vector<unsigned char> b = bytes;
    b.push_back(0);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("1 bytes after the end"));
  }
  SECTION("sound checksums over unsound content") {
    std::vector<unsigned char> b = bytes;
    put_le(b, header_size + 5 * 8, std::bit_cast<std::uint64_t>(std::nan("")), 8);
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("non-finite") &&
                                    Contains("patterns") && Contains("(1, 1)"));
    b = bytes;
    put_le(b, header_size + 12 * 8, std::bit_cast<std::uint64_t>(-1.0), 8);  // beta
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("dense_params.beta is -1"));
    b = bytes;
    b[16] = 9;  // no such object
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("unknown object code 9"));
    b = bytes;
    put_le(b, 88, 14 * 8 + 8, 8);  // a payload size the shapes do not need
    reseal(b);
    write_bytes(bad, b);
    REQUIRE_THROWS_AS(load(), engram::parse_error);
    REQUIRE_THROWS_WITH(load(), Contains(bad.string()) && Contains("payload is declared"));
  }
  SECTION("another kind of memory, map or parameters than requested") {
    using sincos_memory = engram::distributed_memory<engram::sincos_features, double>;
    using cos_memory = engram::distributed_memory<engram::cos_features, double>;
    REQUIRE_THROWS_AS(io::load_memory<cos_memory>(good), engram::parse_error);
    REQUIRE_THROWS_WITH(io::load_memory<cos_memory>(good),
                        Contains(good.string()) && Contains("holds a dense_memory") &&
                            Contains("distributed_memory was requested"));
    const fs::path sincos = dir.path / "sincos.engram";
    io::save_memory(sincos, sincos_memory(engram::random_features<engram::sincos_features, double>(
                                              4, 10, 1.0, 3),
                                          uniform<double>(41, 4, 2)));
    REQUIRE_THROWS_AS(io::load_memory<cos_memory>(sincos), engram::parse_error);
    REQUIRE_THROWS_WITH(io::load_memory<cos_memory>(sincos), Contains(sincos.string()) &&
                                                                 Contains("'sincos' feature map") &&
                                                                 Contains("uses 'cos'"));
    REQUIRE_THROWS_AS(io::load_memory<memory_type>(sincos), engram::parse_error);
    REQUIRE_THROWS_AS((io::load_memory<sincos_memory, io::drdam_params<double>>(sincos)),
                      engram::parse_error);
    REQUIRE_THROWS_WITH((io::load_memory<sincos_memory, io::drdam_params<double>>(sincos)),
                        Contains("holds no parameters; drdam_params were requested"));
  }
  SECTION("a missing file") {
    const fs::path missing = dir.path / "missing.engram";
    REQUIRE_THROWS_AS(io::load_memory<memory_type>(missing), engram::io_error);
    REQUIRE_THROWS_WITH(io::load_memory<memory_type>(missing),
                        Contains(missing.string()) && Contains("cannot open"));
    // A folder opens on some systems but is no memory file.
    REQUIRE_THROWS_AS(io::load_memory<memory_type>(dir.path), engram::io_error);
    REQUIRE_THROWS_WITH(io::load_memory<memory_type>(dir.path), Contains(dir.path.string()));
  }
}

TEST_CASE("sizes a header claims are bounded before anything is allocated",
          "[io][persistence][errors]") {
  temp_dir dir("limits");
  using memory_type = engram::dense_memory<double>;
  const fs::path p = dir.path / "small.engram";
  io::save_memory(p, memory_type(uniform<double>(50, 4, 3)),
                  engram::dense_params<double>{.beta = 1, .eps = 0});
  // Loaded, it holds 12 patterns' numbers, 2 parameters and 3 cached norms: 17 doubles, 136 bytes.
  const auto throws_limit = [&](const fs::path& file, std::uint64_t max_bytes) -> std::string {
    try {
      (void)io::load_memory<memory_type>(file, {.max_bytes = max_bytes});
    } catch (const engram::parse_error& e) {
      return std::string("a parse_error: ") + e.what();
    } catch (const engram::io_error& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string refused = throws_limit(p, 135);
  CHECK_THAT(refused, Contains(p.string()) && Contains("needs 136 bytes") &&
                          Contains("load_options.max_bytes = 135") && Contains("raise"));
  CHECK(io::load_memory<memory_type>(p, {.max_bytes = 136}).size() == 3);

  // A header that claims 2^20 x 2^20 patterns (8 TiB) in a file of a few hundred bytes: refused
  // by the default limit, from the header alone.
  std::vector<unsigned char> b = read_bytes(p);
  put_le(b, 40, std::uint64_t(1) << 20, 8);
  put_le(b, 48, std::uint64_t(1) << 20, 8);
  put_le(b, 88, ((std::uint64_t(1) << 40) + 2) * 8, 8);
  reseal(b);
  const fs::path claims = dir.path / "claims.engram";
  write_bytes(claims, b);
  CHECK_THAT(throws_limit(claims, io::load_options{}.max_bytes),
             Contains(claims.string()) && Contains("its payload is 8796093022224 bytes") &&
                 Contains("raise load_options.max_bytes"));
  // Raised past it, the file is then too short for its claim.
  REQUIRE_THROWS_AS(io::load_memory<memory_type>(claims, {.max_bytes = ~std::uint64_t(0)}),
                    engram::parse_error);
  REQUIRE_THROWS_WITH(io::load_memory<memory_type>(claims, {.max_bytes = ~std::uint64_t(0)}),
                      Contains("truncated"));

  // Sizes whose product overflows 64 bits.
  put_le(b, 40, std::uint64_t(1) << 40, 8);
  put_le(b, 48, std::uint64_t(1) << 40, 8);
  reseal(b);
  write_bytes(claims, b);
  REQUIRE_THROWS_AS(io::load_memory<memory_type>(claims), engram::parse_error);
  REQUIRE_THROWS_WITH(io::load_memory<memory_type>(claims),
                      Contains(claims.string()) && Contains("overflows 64 bits"));
}

TEST_CASE("saving is atomic: a failed save leaves what was there", "[io][persistence][errors]") {
  temp_dir dir("atomic");
  using memory_type = engram::dense_memory<double>;
  const memory_type first(uniform<double>(60, 4, 3)), second(uniform<double>(61, 64, 64));

  SECTION("a folder that does not exist") {
    const fs::path p = dir.path / "no_such_folder" / "memory.engram";
    REQUIRE_THROWS_AS(io::save_memory(p, first), engram::io_error);
    REQUIRE_THROWS_WITH(io::save_memory(p, first), Contains(p.string()));
    CHECK_FALSE(fs::exists(dir.path / "no_such_folder"));
  }

  const fs::path p = dir.path / "memory.engram";
  io::save_memory(p, first);
  const std::vector<unsigned char> before = read_bytes(p);
  const auto unchanged = [&] {
    CHECK(read_bytes(p) == before);
    CHECK_FALSE(fs::exists(p.string() + ".part"));
    CHECK(io::load_memory<memory_type>(p).patterns() == first.patterns());
  };

  SECTION("parameters that fail validation") {
    REQUIRE_THROWS_AS(io::save_memory(p, second, engram::dense_params<double>{.beta = -1}),
                      engram::invalid_argument);
    unchanged();
  }
  SECTION("the temporary name taken by a folder") {
    fs::create_directory(p.string() + ".part");
    REQUIRE_THROWS_AS(io::save_memory(p, second), engram::io_error);
    REQUIRE_THROWS_WITH(io::save_memory(p, second), Contains(p.string() + ".part"));
    CHECK(read_bytes(p) == before);
    CHECK(fs::is_directory(p.string() + ".part"));  // not ours: left alone
    fs::remove(p.string() + ".part");
  }
  SECTION("a folder in the way of the final name") {
    const fs::path folder = dir.path / "folder.engram";
    fs::create_directories(folder / "inside");
    REQUIRE_THROWS_AS(io::save_memory(folder, second), engram::io_error);
    CHECK(fs::is_directory(folder / "inside"));
    CHECK_FALSE(fs::exists(folder.string() + ".part"));
  }
#if defined(__unix__)
  SECTION("the disk refuses the write halfway") {
    // A file size limit of 4 KiB (which binds root too) makes the 32 KiB payload fail mid-write.
    rlimit saved{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    const auto handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved;
    small.rlim_cur = 4096;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string what;
    try {
      io::save_memory(p, second);
    } catch (const engram::io_error& e) {
      what = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, handler);
    CHECK_THAT(what, Contains(p.string()) && Contains("failed"));
    unchanged();
  }
#endif
  SECTION("a successful save replaces the file") {
    io::save_memory(p, second);
    CHECK(io::load_memory<memory_type>(p).patterns() == second.patterns());
    CHECK_FALSE(fs::exists(p.string() + ".part"));
  }
}
