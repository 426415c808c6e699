// Tests of core/random: ember's generator must reproduce PyTorch's CPU random
// streams bit for bit.
//
// Every expected value below was produced by PyTorch 2.13.0+cpu on x86-64: the
// scenarios() table by its AVX2 kernels (which AVX-512 CPUs also use), the
// baseline_scenarios() table by its baseline kernels (ATEN_CPU_CAPABILITY=default,
// what torch runs on a CPU without AVX2). The test checks the table of the stream
// this process reproduces (kernels::torch_capability()); ctest runs it a second time
// under EMBER_CPU=reference for the other one. Each scenario creates one
// generator, `torch.manual_seed(seed)` (equivalently
// `g = torch.Generator(); g.manual_seed(seed)`) or a fresh `torch.Generator()`
// for the default seed, and then makes the listed torch calls one after the
// other on that generator (passing generator=g), so later calls check how the
// stream continues. For each call the table holds an FNV-1a 64 hash of all the
// result's bytes (`fnv1a64(t.numpy().tobytes())`) and the exact values (hex
// floats) of all elements when n <= 17, of nine spread elements otherwise.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/random.h"
#include "kernels/kernels.h"

namespace {

using ember::Generator;

enum class Op { kNormal, kUniform, kNormalSerial };
struct Sample {
  int64_t index;
  double value;  // exact in the element type
};
struct Call {
  Op op;
  bool f32;
  int64_t n;
  double a, b;  // mean/std or from/to
  uint64_t fnv;
  std::vector<Sample> samples;
};
struct Scenario {
  const char* name;
  uint64_t seed;
  bool default_constructed;  // Generator() instead of Generator(seed)
  std::vector<Call> calls;
};

uint64_t fnv1a64(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
uint64_t bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}

// torch.manual_seed(0); torch.randn(3); fnv1a64(torch.get_rng_state().numpy().tobytes())
constexpr uint64_t kStateHashSeed0Randn3 = 0xe26132ccfee7865dULL;

// clang-format off
const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> table = {
    // Seed0Float32RandnSizes: torch.manual_seed(0)
    {"Seed0Float32RandnSizes", 0ULL, false, {
        // torch.randn(1, dtype=torch.float32)
        {Op::kNormal, true, 1, 0.0, 1.0, 0x1877733c12d64cbcULL,
         {{0, 0x1.8a7eb80000000p+0f}}},
        // torch.randn(2, dtype=torch.float32)
        {Op::kNormal, true, 2, 0.0, 1.0, 0x0047eb1067c8ea68ULL,
         {{0, -0x1.2c78a00000000p-2f}, {1, -0x1.16e2920000000p+1f}}},
        // torch.randn(15, dtype=torch.float32)
        {Op::kNormal, true, 15, 0.0, 1.0, 0x004c8a4fc97e21beULL,
         {{0, 0x1.23096c0000000p-1f}, {1, -0x1.15a3420000000p+0f}, {2, -0x1.660a5a0000000p+0f}, {3, 0x1.9d06f40000000p-2f}, {4, 0x1.ad11ca0000000p-1f}, {5, -0x1.7042880000000p-1f}, {6, -0x1.9d06160000000p-2f}, {7, -0x1.317a300000000p-1f}, {8, 0x1.74cf8c0000000p-3f}, {9, -0x1.b69e0e0000000p-1f}, {10, 0x1.19c1320000000p+0f}, {11, -0x1.1239560000000p+0f}, {12, 0x1.f695940000000p-4f}, {13, -0x1.21f45e0000000p-1f}, {14, 0x1.7e11c40000000p-2f}}},
        // torch.randn(16, dtype=torch.float32)
        {Op::kNormal, true, 16, 0.0, 1.0, 0x51724bf1051a2ad9ULL,
         {{0, 0x1.c23fa00000000p-2f}, {1, 0x1.cc6fac0000000p-4f}, {2, 0x1.4815f00000000p-1f}, {3, 0x1.c3be780000000p-2f}, {4, -0x1.ba16840000000p-3f}, {5, -0x1.7c2f460000000p-1f}, {6, 0x1.201d040000000p-1f}, {7, 0x1.09dbc40000000p-2f}, {8, 0x1.0bb45e0000000p-1f}, {9, 0x1.26aeaa0000000p+1f}, {10, -0x1.78096e0000000p+0f}, {11, -0x1.96313c0000000p+0f}, {12, 0x1.3406780000000p+0f}, {13, 0x1.5a410e0000000p-4f}, {14, -0x1.333c560000000p+0f}, {15, -0x1.39a35c0000000p-8f}}},
        // torch.randn(17, dtype=torch.float32)
        {Op::kNormal, true, 17, 0.0, 1.0, 0x31750b8d978350baULL,
         {{0, -0x1.d7ba200000000p-3f}, {1, 0x1.489b160000000p+1f}, {2, -0x1.e479840000000p-2f}, {3, 0x1.579a9e0000000p-2f}, {4, 0x1.8255d00000000p+0f}, {5, 0x1.0a7d840000000p+1f}, {6, 0x1.b4eb0e0000000p+0f}, {7, 0x1.30afe20000000p+1f}, {8, -0x1.20276e0000000p+0f}, {9, 0x1.1d6cae0000000p+0f}, {10, -0x1.2018580000000p-3f}, {11, 0x1.9c8bbc0000000p-1f}, {12, 0x1.4f7a200000000p-2f}, {13, -0x1.857b6a0000000p-1f}, {14, -0x1.995d700000000p+0f}, {15, 0x1.2ee2b40000000p-6f}, {16, -0x1.8037f20000000p-1f}}},
        // torch.randn(100, dtype=torch.float32)
        {Op::kNormal, true, 100, 0.0, 1.0, 0xebc4a84de4e50583ULL,
         {{0, -0x1.99a28e0000000p-2f}, {1, 0x1.0a1a2e0000000p+0f}, {2, 0x1.6ebfb00000000p-2f}, {33, -0x1.d7c9de0000000p-1f}, {50, -0x1.10273a0000000p+0f}, {66, -0x1.e307680000000p-4f}, {97, 0x1.049cdc0000000p+1f}, {98, 0x1.0d7f4c0000000p-3f}, {99, -0x1.30b8ba0000000p-4f}}},
        // torch.randn(300, dtype=torch.float32)
        {Op::kNormal, true, 300, 0.0, 1.0, 0xf6244865d2c4f16cULL,
         {{0, -0x1.b6b6de0000000p+0f}, {1, -0x1.0527360000000p-1f}, {2, -0x1.e64a620000000p-2f}, {100, -0x1.3b64660000000p+0f}, {150, -0x1.98a2fa0000000p+0f}, {200, -0x1.4d9a9c0000000p-3f}, {297, -0x1.0a95bc0000000p+0f}, {298, -0x1.66dc9c0000000p+0f}, {299, 0x1.dcd8720000000p-1f}}},
    }},
    // Seed0Float64RandnSizes: torch.manual_seed(0)
    {"Seed0Float64RandnSizes", 0ULL, false, {
        // torch.randn(1, dtype=torch.float64)
        {Op::kNormal, false, 1, 0.0, 1.0, 0x70d5df73f7d9e29bULL,
         {{0, 0x1.8a7eb8902be3ap+0}}},
        // torch.randn(2, dtype=torch.float64)
        {Op::kNormal, false, 2, 0.0, 1.0, 0x7b4f34523899257cULL,
         {{0, -0x1.2c78a087c6feap-2}, {1, -0x1.16e2920a70ee5p+1}}},
        // torch.randn(15, dtype=torch.float64)
        {Op::kNormal, false, 15, 0.0, 1.0, 0x9b51b2d82ad3cc85ULL,
         {{0, 0x1.23096ca3e350dp-1}, {1, -0x1.15a341987e136p+0}, {2, -0x1.660a590b74404p+0}, {3, 0x1.9d06f4be0cd62p-2}, {4, 0x1.ad11c99ad2d18p-1}, {5, -0x1.70428781da237p-1}, {6, -0x1.9d0615c28c56fp-2}, {7, -0x1.317a30b4235d8p-1}, {8, 0x1.74cf8b7023054p-3}, {9, -0x1.b69e0d630b475p-1}, {10, 0x1.19c131e7df150p+0}, {11, -0x1.123955c471384p+0}, {12, 0x1.f6959316295ecp-4}, {13, -0x1.21f45d35e3047p-1}, {14, 0x1.7e11c33de4300p-2}}},
        // torch.randn(16, dtype=torch.float64)
        {Op::kNormal, false, 16, 0.0, 1.0, 0x4c744e4a5fb13ecbULL,
         {{0, -0x1.42cbf54f08f8ep+0}, {1, -0x1.7432edfaba107p-1}, {2, -0x1.471a3c0e2f22ap-6}, {3, 0x1.aeb1b572b6a04p-3}, {4, 0x1.6ae2402b7b62bp-3}, {5, -0x1.a9389d082941dp-1}, {6, 0x1.e8e503666016dp-3}, {7, 0x1.779107c3069d9p-1}, {8, -0x1.8bc82256d975bp-1}, {9, -0x1.985dd0627b1f0p+0}, {10, -0x1.5fbef2bc4be3bp-1}, {11, 0x1.7cf270386ca66p+0}, {12, -0x1.cb2d8340fb171p-2}, {13, -0x1.c8318cc163de5p-1}, {14, 0x1.5986ed8e63e98p-1}, {15, 0x1.0bff5e8d733a2p+0}}},
        // torch.randn(17, dtype=torch.float64)
        {Op::kNormal, false, 17, 0.0, 1.0, 0xa8a4a2c435074c78ULL,
         {{0, -0x1.35891f4f02060p-7}, {1, -0x1.54958cf4318f8p-1}, {2, -0x1.2ca870bedb0bbp-1}, {3, 0x1.6a8263ad29afdp+1}, {4, 0x1.ced8be3eb51bcp-1}, {5, 0x1.e54ad47980710p-1}, {6, -0x1.0ab8d5c8ad061p+0}, {7, 0x1.f27d67e8b8987p-1}, {8, -0x1.30d2724790666p-4}, {9, -0x1.8ad28c0016161p-2}, {10, -0x1.19a2c0fcc0db5p-2}, {11, 0x1.c5ef13746de53p-1}, {12, 0x1.7c59903ede70cp+0}, {13, -0x1.0169b1e9a1882p-7}, {14, -0x1.86feec55487d3p-1}, {15, 0x1.532f7bd0fc45fp+0}, {16, 0x1.de34c44b04ec7p-5}}},
        // torch.randn(100, dtype=torch.float64)
        {Op::kNormal, false, 100, 0.0, 1.0, 0x3135293ccbeb4838ULL,
         {{0, -0x1.526b1ae919359p-4}, {1, 0x1.75d34f81a1b7cp-3}, {2, 0x1.e6dcdd509a780p-1}, {33, 0x1.acdeebba76c45p-2}, {50, 0x1.b499bea9f8bf7p-1}, {66, 0x1.bbfd9918e68a7p-3}, {97, 0x1.4a63068a55d62p+0}, {98, -0x1.20fa605d316abp+1}, {99, 0x1.ffeed30c43cc0p-1}}},
        // torch.randn(300, dtype=torch.float64)
        {Op::kNormal, false, 300, 0.0, 1.0, 0xccdc7075737c5b6aULL,
         {{0, 0x1.5c39c6b06b939p-5}, {1, -0x1.692c4c0a65790p-2}, {2, 0x1.cf549b6038915p-1}, {100, -0x1.54dcdca767c23p-2}, {150, -0x1.ff046071d13b1p-1}, {200, 0x1.56218b1ed7871p+0}, {297, -0x1.315cbda7c6839p-2}, {298, -0x1.910069b6e905ap-3}, {299, -0x1.e8fd92cc24e06p+0}}},
    }},
    // Seed42Float32RandnSizes: torch.manual_seed(42)
    {"Seed42Float32RandnSizes", 42ULL, false, {
        // torch.randn(1, dtype=torch.float32)
        {Op::kNormal, true, 1, 0.0, 1.0, 0x339a81d29fc978d3ULL,
         {{0, 0x1.58c55c0000000p-2f}}},
        // torch.randn(2, dtype=torch.float32)
        {Op::kNormal, true, 2, 0.0, 1.0, 0x925ab76e12d6c3b0ULL,
         {{0, 0x1.07cd3a0000000p-3f}, {1, 0x1.e02dce0000000p-3f}}},
        // torch.randn(15, dtype=torch.float32)
        {Op::kNormal, true, 15, 0.0, 1.0, 0x055a08d89c9153cfULL,
         {{0, 0x1.d7b8d80000000p-3f}, {1, -0x1.1f73840000000p+0f}, {2, -0x1.7d99b00000000p-3f}, {3, 0x1.1aa6580000000p+1f}, {4, -0x1.46a78c0000000p-1f}, {5, 0x1.d8bcac0000000p-2f}, {6, 0x1.11c46e0000000p-2f}, {7, 0x1.11df060000000p-1f}, {8, 0x1.9e64120000000p-1f}, {9, 0x1.1c3bfc0000000p+0f}, {10, -0x1.b096aa0000000p+0f}, {11, -0x1.fa58f40000000p-1f}, {12, 0x1.ea7b480000000p-1f}, {13, 0x1.5277720000000p+0f}, {14, 0x1.a266b20000000p-1f}}},
        // torch.randn(16, dtype=torch.float32)
        {Op::kNormal, true, 16, 0.0, 1.0, 0x342f4bbb40359777ULL,
         {{0, 0x1.4688900000000p-2f}, {1, -0x1.b2b51a0000000p-2f}, {2, 0x1.390ee80000000p-2f}, {3, -0x1.8c97640000000p-1f}, {4, 0x1.1e007e0000000p-5f}, {5, 0x1.48cf3a0000000p-2f}, {6, 0x1.92d7760000000p+0f}, {7, -0x1.b0e11c0000000p-1f}, {8, -0x1.462ec60000000p+0f}, {9, 0x1.0fb76c0000000p+1f}, {10, -0x1.3c123a0000000p+0f}, {11, -0x1.f39fb20000000p-2f}, {12, -0x1.6b05fa0000000p+0f}, {13, 0x1.cae3ae0000000p-1f}, {14, 0x1.98d32e0000000p-5f}, {15, 0x1.2223d00000000p+1f}}},
        // torch.randn(17, dtype=torch.float32)
        {Op::kNormal, true, 17, 0.0, 1.0, 0x28478dd46135c1d9ULL,
         {{0, -0x1.f3b41a0000000p-2f}, {1, -0x1.9422820000000p-3f}, {2, -0x1.0df98a0000000p+0f}, {3, 0x1.472ab80000000p+0f}, {4, 0x1.29a6cc0000000p-3f}, {5, 0x1.d931760000000p-3f}, {6, 0x1.1b92ec0000000p-7f}, {7, -0x1.2368c60000000p-3f}, {8, 0x1.9399a00000000p-3f}, {9, -0x1.4890100000000p-1f}, {10, -0x1.1a6b440000000p+1f}, {11, -0x1.8069420000000p-1f}, {12, 0x1.68320a0000000p+1f}, {13, 0x1.706c180000000p-2f}, {14, -0x1.6fdace0000000p-4f}, {15, 0x1.d571420000000p-2f}, {16, -0x1.20fe480000000p-1f}}},
        // torch.randn(100, dtype=torch.float32)
        {Op::kNormal, true, 100, 0.0, 1.0, 0xb029608b92ee7779ULL,
         {{0, 0x1.0c9b560000000p-1f}, {1, 0x1.2425ca0000000p+0f}, {2, 0x1.a710780000000p-5f}, {33, -0x1.8e671c0000000p-2f}, {50, 0x1.26ea120000000p-1f}, {66, 0x1.ab34340000000p-4f}, {97, -0x1.6981be0000000p-1f}, {98, -0x1.6f0e4c0000000p-1f}, {99, 0x1.0d58020000000p-1f}}},
        // torch.randn(300, dtype=torch.float32)
        {Op::kNormal, true, 300, 0.0, 1.0, 0x32d91c1a81dd3a9eULL,
         {{0, -0x1.b324700000000p-2f}, {1, 0x1.e3723e0000000p-1f}, {2, -0x1.7abef40000000p-3f}, {100, -0x1.efcb300000000p-1f}, {150, 0x1.b4bf6a0000000p+0f}, {200, -0x1.68b8f80000000p+0f}, {297, 0x1.f23d4a0000000p-2f}, {298, 0x1.77a0ea0000000p-2f}, {299, -0x1.9092480000000p-2f}}},
    }},
    // Seed42Float64RandnSizes: torch.manual_seed(42)
    {"Seed42Float64RandnSizes", 42ULL, false, {
        // torch.randn(1, dtype=torch.float64)
        {Op::kNormal, false, 1, 0.0, 1.0, 0xc33adcedcf4e9768ULL,
         {{0, 0x1.58c55b33d44ccp-2}}},
        // torch.randn(2, dtype=torch.float64)
        {Op::kNormal, false, 2, 0.0, 1.0, 0xef3d11db7d424ae5ULL,
         {{0, 0x1.07cd39b3d4b85p-3}, {1, 0x1.e02dcdb63ec41p-3}}},
        // torch.randn(15, dtype=torch.float64)
        {Op::kNormal, false, 15, 0.0, 1.0, 0x88da580298a333aaULL,
         {{0, 0x1.d7b8d7b0a7c22p-3}, {1, -0x1.1f7383f8320c1p+0}, {2, -0x1.7d99b0fe3842ep-3}, {3, 0x1.1aa65763ab83bp+1}, {4, -0x1.46a78cdb84d7bp-1}, {5, 0x1.d8bcabb37ba27p-2}, {6, 0x1.11c46d07e388ep-2}, {7, 0x1.11df06d402ad7p-1}, {8, 0x1.9e64114e70279p-1}, {9, 0x1.1c3bfc5c67967p+0}, {10, -0x1.b096a9168f811p+0}, {11, -0x1.fa58f31529415p-1}, {12, 0x1.ea7b476b18dadp-1}, {13, 0x1.527772d328b10p+0}, {14, 0x1.a266b298bf8e0p-1}}},
        // torch.randn(16, dtype=torch.float64)
        {Op::kNormal, false, 16, 0.0, 1.0, 0x1b5b05c1f8e04f4cULL,
         {{0, 0x1.4586fc50325b4p+0}, {1, 0x1.3cc2503d82af8p-1}, {2, -0x1.30c45c7145abep-5}, {3, 0x1.0905f784f7792p+0}, {4, -0x1.4a7b7ceff41c7p-7}, {5, 0x1.6e82bfad73187p-4}, {6, 0x1.3adc896b5cc6ap-5}, {7, -0x1.e4538c09260c9p-4}, {8, -0x1.28e0fab040e8cp-1}, {9, 0x1.c07529caa8c80p-1}, {10, 0x1.91cd551d1ca00p-2}, {11, 0x1.1bc41cab382c5p+0}, {12, 0x1.baf804309bfb6p-1}, {13, 0x1.b5deddd314d28p-1}, {14, 0x1.fecba7d412db7p-3}, {15, 0x1.0bdc98531685dp-2}}},
        // torch.randn(17, dtype=torch.float64)
        {Op::kNormal, false, 17, 0.0, 1.0, 0x44dc35289ab0fb20ULL,
         {{0, -0x1.3d93383ba1349p+0}, {1, -0x1.7fc0012c5075cp-3}, {2, 0x1.c5746410c6023p-2}, {3, -0x1.db5b4562898f1p-3}, {4, -0x1.0b7b478dc4725p-5}, {5, -0x1.393f1f238ffecp+1}, {6, -0x1.c494f9fc6cfcbp-2}, {7, -0x1.cdb124790e0d7p-1}, {8, -0x1.105df2630a42ap+0}, {9, 0x1.1d55cbaa6fe23p+0}, {10, 0x1.fa28f291ee21ep-6}, {11, -0x1.5882e8f35f4f8p+0}, {12, 0x1.2ceea83e5a9a6p+0}, {13, -0x1.50ff5741548dap+1}, {14, 0x1.2802f5ae3ab7cp-1}, {15, 0x1.62fbce1181b89p-2}, {16, -0x1.d31907eec7dd3p-1}}},
        // torch.randn(100, dtype=torch.float64)
        {Op::kNormal, false, 100, 0.0, 1.0, 0x9203600f297dfceeULL,
         {{0, 0x1.12191ed72dcf0p+1}, {1, -0x1.65acb90280928p+0}, {2, -0x1.62ff58b7b3490p-2}, {33, -0x1.af12050ae7431p-1}, {50, -0x1.7c689861897f1p-4}, {66, -0x1.419d47ae3a12dp-1}, {97, -0x1.556b80ad79e1bp-5}, {98, 0x1.3c2269d34a1bdp+0}, {99, -0x1.b7f891abbaf6bp-1}}},
        // torch.randn(300, dtype=torch.float64)
        {Op::kNormal, false, 300, 0.0, 1.0, 0xa6f288a0f5970cf9ULL,
         {{0, -0x1.c4ee17f013076p+0}, {1, 0x1.788d1451466bdp-1}, {2, -0x1.35d101630e843p+0}, {100, -0x1.21efc8175ae30p+0}, {150, -0x1.86f72cb2e6029p-1}, {200, 0x1.326ea73729ec1p-2}, {297, 0x1.e8f58f8c30163p-1}, {298, 0x1.7a7cabd115eccp-1}, {299, -0x1.e69c8e095d4cep-3}}},
    }},
    // Seed0Float32Randn100x3: torch.manual_seed(0)
    {"Seed0Float32Randn100x3", 0ULL, false, {
        // torch.randn(300, dtype=torch.float32)
        {Op::kNormal, true, 300, 0.0, 1.0, 0xc4638b3bee3ada80ULL,
         {{0, -0x1.20370a0000000p+0f}, {1, -0x1.2701140000000p+0f}, {2, -0x1.0097ac0000000p-2f}, {100, -0x1.4e815a0000000p+1f}, {150, -0x1.9bc7660000000p-3f}, {200, -0x1.30b8ba0000000p-4f}, {297, 0x1.e9eb960000000p-2f}, {298, -0x1.3ac21c0000000p+0f}, {299, -0x1.5ebab40000000p+0f}}},
    }},
    // DefaultSeedFloat32: g = torch.Generator()  # initial seed 67280421310721
    {"DefaultSeedFloat32", Generator::kDefaultSeed, true, {
        // torch.randn(300, dtype=torch.float32)
        {Op::kNormal, true, 300, 0.0, 1.0, 0xd608953729cfd172ULL,
         {{0, -0x1.63be1a0000000p-3f}, {1, -0x1.d28db60000000p+0f}, {2, 0x1.8ef4e60000000p-1f}, {100, 0x1.d040bc0000000p-2f}, {150, -0x1.2928f60000000p+0f}, {200, 0x1.65ad280000000p-1f}, {297, -0x1.225dbe0000000p-3f}, {298, 0x1.5606ba0000000p+0f}, {299, -0x1.7e8b5c0000000p+0f}}},
        // torch.randn(5, dtype=torch.float32)
        {Op::kNormal, true, 5, 0.0, 1.0, 0x0b8e31e6926912a1ULL,
         {{0, -0x1.85d6c80000000p-2f}, {1, 0x1.3901780000000p-1f}, {2, 0x1.f68c220000000p-1f}, {3, 0x1.bc56d40000000p-1f}, {4, -0x1.efc2bc0000000p-4f}}},
        // torch.rand(17, dtype=torch.float32)
        {Op::kUniform, true, 17, 0.0, 1.0, 0x1b85789d0468ff64ULL,
         {{0, 0x1.f26bec0000000p-2f}, {1, 0x1.09186c0000000p-2f}, {2, 0x1.43ebf40000000p-1f}, {3, 0x1.1844cc0000000p-1f}, {4, 0x1.7f8cc80000000p-3f}, {5, 0x1.67327a0000000p-1f}, {6, 0x1.5c16c00000000p-1f}, {7, 0x1.61dee00000000p-4f}, {8, 0x1.84b6280000000p-2f}, {9, 0x1.ad07640000000p-1f}, {10, 0x1.c14c9c0000000p-2f}, {11, 0x1.119f600000000p-1f}, {12, 0x1.b406400000000p-1f}, {13, 0x1.ccb15c0000000p-2f}, {14, 0x1.00ebfc0000000p-2f}, {15, 0x1.2f7cc00000000p-1f}, {16, 0x1.f41e100000000p-4f}}},
    }},
    // DefaultSeedFloat64: g = torch.Generator()  # initial seed 67280421310721
    {"DefaultSeedFloat64", Generator::kDefaultSeed, true, {
        // torch.randn(16, dtype=torch.float64)
        {Op::kNormal, false, 16, 0.0, 1.0, 0xafbf49e0e0c29623ULL,
         {{0, -0x1.6a55662bc7680p-3}, {1, -0x1.aa85790c31edbp-5}, {2, -0x1.a8f1ef4469329p-1}, {3, 0x1.4c371ac7649e7p+0}, {4, 0x1.86fa678677322p+0}, {5, 0x1.56d824cf56bb3p-1}, {6, -0x1.d2b968a91b713p-2}, {7, 0x1.18908561077bfp+1}, {8, -0x1.08551fcdec0ccp-1}, {9, -0x1.83741d6ccb53fp+0}, {10, 0x1.01a243ada552fp-3}, {11, 0x1.604ccc05b6932p-3}, {12, 0x1.c2f3931a0cc33p-2}, {13, -0x1.583beaf599bb6p+0}, {14, -0x1.8a4e04361a313p-1}, {15, -0x1.17501f5cfd194p-3}}},
        // torch.randn(3, dtype=torch.float64)
        {Op::kNormal, false, 3, 0.0, 1.0, 0x74ea13b449dc05f2ULL,
         {{0, 0x1.9c0a98f7c2ce3p-2}, {1, 0x1.1ad3289b6b48ep-2}, {2, 0x1.208a84351525fp-6}}},
        // torch.rand(2, dtype=torch.float64)
        {Op::kUniform, false, 2, 0.0, 1.0, 0xb7fc44ff39624b03ULL,
         {{0, 0x1.fa3d436d6eb40p-7}, {1, 0x1.6fe7e1191c6abp-1}}},
    }},
    // Seed0RandSizes: torch.manual_seed(0)
    {"Seed0RandSizes", 0ULL, false, {
        // torch.rand(1, dtype=torch.float32)
        {Op::kUniform, true, 1, 0.0, 1.0, 0xa9231c5d75015352ULL,
         {{0, 0x1.fc2ab00000000p-2f}}},
        // torch.rand(2, dtype=torch.float32)
        {Op::kUniform, true, 2, 0.0, 1.0, 0x9211eba31ae28282ULL,
         {{0, 0x1.89545e0000000p-1f}, {1, 0x1.6a67500000000p-4f}}},
        // torch.rand(15, dtype=torch.float32)
        {Op::kUniform, true, 15, 0.0, 1.0, 0x0f11a24b6fa12527ULL,
         {{0, 0x1.0e66000000000p-3f}, {1, 0x1.3acd0c0000000p-2f}, {2, 0x1.44a5f60000000p-1f}, {3, 0x1.f5db0c0000000p-2f}, {4, 0x1.caface0000000p-1f}, {5, 0x1.d290240000000p-2f}, {6, 0x1.43bda60000000p-1f}, {7, 0x1.6544540000000p-2f}, {8, 0x1.9b5bc80000000p-2f}, {9, 0x1.6dc9000000000p-6f}, {10, 0x1.59d2b80000000p-3f}, {11, 0x1.2cf1180000000p-2f}, {12, 0x1.097bb00000000p-1f}, {13, 0x1.6534b00000000p-1f}, {14, 0x1.999b180000000p-1f}}},
        // torch.rand(16, dtype=torch.float32)
        {Op::kUniform, true, 16, 0.0, 1.0, 0xca26a4b8e5d4d557ULL,
         {{0, 0x1.49c9d00000000p-3f}, {1, 0x1.210b040000000p-2f}, {2, 0x1.5cfbcc0000000p-1f}, {3, 0x1.d4944e0000000p-1f}, {4, 0x1.96a15c0000000p-2f}, {5, 0x1.bf915c0000000p-1f}, {6, 0x1.ad79600000000p-2f}, {7, 0x1.1b16a20000000p-1f}, {8, 0x1.e7cd4a0000000p-1f}, {9, 0x1.2843200000000p-5f}, {10, 0x1.7b5a680000000p-3f}, {11, 0x1.7e61200000000p-2f}, {12, 0x1.386c240000000p-2f}, {13, 0x1.dd2f280000000p-1f}, {14, 0x1.6843980000000p-3f}, {15, 0x1.144f400000000p-2f}}},
        // torch.rand(17, dtype=torch.float32)
        {Op::kUniform, true, 17, 0.0, 1.0, 0x92b7e095c8f0627aULL,
         {{0, 0x1.3497980000000p-3f}, {1, 0x1.03d8a00000000p-5f}, {2, 0x1.aa3ff00000000p-3f}, {3, 0x1.dc0e9e0000000p-1f}, {4, 0x1.723b5e0000000p-1f}, {5, 0x1.7c13800000000p-1f}, {6, 0x1.0d76a40000000p-1f}, {7, 0x1.f303180000000p-3f}, {8, 0x1.2b4fb00000000p-1f}, {9, 0x1.0f96200000000p-5f}, {10, 0x1.1c17980000000p-3f}, {11, 0x1.f018e80000000p-3f}, {12, 0x1.a185260000000p-1f}, {13, 0x1.9619260000000p-1f}, {14, 0x1.1cee380000000p-2f}, {15, 0x1.ed869c0000000p-2f}, {16, 0x1.a3ba400000000p-1f}}},
        // torch.rand(100, dtype=torch.float32)
        {Op::kUniform, true, 100, 0.0, 1.0, 0x410ec7a32471e665ULL,
         {{0, 0x1.fe7f820000000p-1f}, {1, 0x1.659a120000000p-1f}, {2, 0x1.2295720000000p-1f}, {33, 0x1.2fea820000000p-1f}, {50, 0x1.ac7f540000000p-1f}, {66, 0x1.0b8d280000000p-1f}, {97, 0x1.0183240000000p-2f}, {98, 0x1.de97f00000000p-4f}, {99, 0x1.06c0000000000p-5f}}},
        // torch.rand(300, dtype=torch.float32)
        {Op::kUniform, true, 300, 0.0, 1.0, 0x05485a506e93fc50ULL,
         {{0, 0x1.3f78a00000000p-4f}, {1, 0x1.9825c80000000p-2f}, {2, 0x1.8c64560000000p-1f}, {100, 0x1.21d5f60000000p-1f}, {150, 0x1.2dfd380000000p-1f}, {200, 0x1.c806fc0000000p-1f}, {297, 0x1.0baca20000000p-1f}, {298, 0x1.928f000000000p-5f}, {299, 0x1.d44ee80000000p-1f}}},
        // torch.rand(1, dtype=torch.float64)
        {Op::kUniform, false, 1, 0.0, 1.0, 0x80fbb347808f97d5ULL,
         {{0, 0x1.3aedebffced00p-3}}},
        // torch.rand(2, dtype=torch.float64)
        {Op::kUniform, false, 2, 0.0, 1.0, 0x4b9b8f264ae2ab1cULL,
         {{0, 0x1.55966e5705b80p-6}, {1, 0x1.5a749e50dc232p-2}}},
        // torch.rand(15, dtype=torch.float64)
        {Op::kUniform, false, 15, 0.0, 1.0, 0x7e0c6aef1d6e7f4eULL,
         {{0, 0x1.cb320bb195daap-1}, {1, 0x1.b2f0e410251d6p-1}, {2, 0x1.c4a386d373a28p-2}, {3, 0x1.b7fd284a8cd44p-1}, {4, 0x1.2d8581a47538cp-3}, {5, 0x1.4b6f46a3984a6p-2}, {6, 0x1.882876cb82fc8p-1}, {7, 0x1.e423d5fc99a8dp-1}, {8, 0x1.1960576ace100p-1}, {9, 0x1.3644238956678p-4}, {10, 0x1.bb9cf96377fb5p-1}, {11, 0x1.d948bdd25a404p-1}, {12, 0x1.334e3c2d22b80p-6}, {13, 0x1.65d6c2397a8d0p-4}, {14, 0x1.412510e79b9a0p-4}}},
        // torch.rand(16, dtype=torch.float64)
        {Op::kUniform, false, 16, 0.0, 1.0, 0x0b32722df2cb1f91ULL,
         {{0, 0x1.b4fbade1076c4p-3}, {1, 0x1.86cdb65642b33p-1}, {2, 0x1.102e390bf7369p-1}, {3, 0x1.94c48bbadb5d4p-3}, {4, 0x1.215222514be33p-1}, {5, 0x1.abe9e7cf141b5p-1}, {6, 0x1.50f3a5b096fabp-1}, {7, 0x1.a4737f0c025fcp-1}, {8, 0x1.787f987d8b624p-2}, {9, 0x1.b03adbfa86b57p-1}, {10, 0x1.461c1e75a2d46p-1}, {11, 0x1.5abd42ab6586ap-2}, {12, 0x1.e46611ab8f8bcp-2}, {13, 0x1.0483b95a03950p-1}, {14, 0x1.acd35ec82ecf8p-2}, {15, 0x1.6a14695945c74p-2}}},
        // torch.rand(17, dtype=torch.float64)
        {Op::kUniform, false, 17, 0.0, 1.0, 0x2e4fb015795b89a9ULL,
         {{0, 0x1.343b13da6f46ap-1}, {1, 0x1.20c919acdd2c0p-5}, {2, 0x1.a386821a5dbc8p-4}, {3, 0x1.f0746edf5a226p-1}, {4, 0x1.d8ea7ab7fa688p-1}, {5, 0x1.fc0dc8ffc7f80p-5}, {6, 0x1.d0387481f76d0p-1}, {7, 0x1.83bf8961efa16p-1}, {8, 0x1.f61f8105f5f4fp-1}, {9, 0x1.86fb2f8a42e10p-2}, {10, 0x1.82ee3fa3d1f06p-1}, {11, 0x1.c5cd1e062a5c7p-1}, {12, 0x1.f9d4569195d90p-5}, {13, 0x1.27f85ec52ec78p-2}, {14, 0x1.7c640ed4330e0p-3}, {15, 0x1.d9b72f3068eedp-1}, {16, 0x1.52a5fc3f88460p-3}}},
        // torch.rand(100, dtype=torch.float64)
        {Op::kUniform, false, 100, 0.0, 1.0, 0x1778c6222d32bfaeULL,
         {{0, 0x1.e0809993114c8p-2}, {1, 0x1.4f3eca1650931p-1}, {2, 0x1.b4abefe8ab0f0p-4}, {33, 0x1.134e1c544c7abp-1}, {50, 0x1.fa9f6c8520978p-3}, {66, 0x1.782b30b6bb626p-1}, {97, 0x1.cdb2f3d71f7fap-1}, {98, 0x1.7b86829191280p-1}, {99, 0x1.b1597c09f9600p-10}}},
        // torch.rand(300, dtype=torch.float64)
        {Op::kUniform, false, 300, 0.0, 1.0, 0x4dca4ed2a9566b0dULL,
         {{0, 0x1.7af1beb17e28ep-2}, {1, 0x1.d125e75489606p-1}, {2, 0x1.3d5b2e9579ea0p-6}, {100, 0x1.9ad41f7cc9777p-1}, {150, 0x1.d5ab2ec0f7f33p-1}, {200, 0x1.e2e6e2e4dcce0p-5}, {297, 0x1.77993d2893f70p-1}, {298, 0x1.b540ba7469be1p-1}, {299, 0x1.ab619b9f19461p-1}}},
    }},
    // Seed42Interleaved: torch.manual_seed(42)
    {"Seed42Interleaved", 42ULL, false, {
        // torch.randn(3, dtype=torch.float32)
        {Op::kNormal, true, 3, 0.0, 1.0, 0x37ecaea295c8b6deULL,
         {{0, 0x1.58c55c0000000p-2f}, {1, 0x1.07cd3a0000000p-3f}, {2, 0x1.e02dce0000000p-3f}}},
        // torch.rand(5, dtype=torch.float32)
        {Op::kUniform, true, 5, 0.0, 1.0, 0x6112a08c46b5a8b0ULL,
         {{0, 0x1.e1accc0000000p-1f}, {1, 0x1.10c3c80000000p-3f}, {2, 0x1.de83a40000000p-1f}, {3, 0x1.2fe9ac0000000p-1f}, {4, 0x1.bd22940000000p-1f}}},
        // torch.randn(20, dtype=torch.float64)
        {Op::kNormal, false, 20, 0.0, 1.0, 0x9142b86929e3cd64ULL,
         {{0, 0x1.30974cb4b8b6dp+0}, {1, -0x1.b6721ebcfd25cp-1}, {2, -0x1.5a1d0b0ac7e48p-1}, {6, -0x1.7515545cdf11ep-1}, {10, -0x1.6683060167808p-4}, {13, 0x1.44a5f244ff159p+0}, {17, 0x1.3fb129c2b20bfp+0}, {18, 0x1.31e06920c7da1p-1}, {19, 0x1.e3165d5be5420p-1}}},
        // torch.randn(1, dtype=torch.float64)
        {Op::kNormal, false, 1, 0.0, 1.0, 0x11583e93f78191c4ULL,
         {{0, 0x1.d7b8d7b0a7c22p-3}}},
        // torch.randn(1, dtype=torch.float32)
        {Op::kNormal, true, 1, 0.0, 1.0, 0x3a4e2e8cfb9f5b3fULL,
         {{0, 0x1.007bca0000000p+1f}}},
        // torch.rand(4, dtype=torch.float64)
        {Op::kUniform, false, 4, 0.0, 1.0, 0x0ce288fe7d988755ULL,
         {{0, 0x1.c18c6a66c3d9cp-3}, {1, 0x1.f5d834fcc4c01p-1}, {2, 0x1.703fd85232d85p-1}, {3, 0x1.baa358bf53469p-1}}},
        // torch.randn(33, dtype=torch.float32)
        {Op::kNormal, true, 33, 0.0, 1.0, 0x1d55656fbccb7db0ULL,
         {{0, 0x1.f3b68c0000000p-2f}, {1, 0x1.91b55e0000000p-1f}, {2, 0x1.d55b020000000p-6f}, {11, 0x1.0f44700000000p-2f}, {16, -0x1.a32a460000000p-4f}, {22, 0x1.26ea120000000p-1f}, {30, 0x1.460c700000000p-1f}, {31, 0x1.bd8c900000000p-3f}, {32, -0x1.7e32c00000000p-5f}}},
        // torch.randn(2, dtype=torch.float32)
        {Op::kNormal, true, 2, 0.0, 1.0, 0x223c4e0180da44fdULL,
         {{0, 0x1.530ab80000000p-1f}, {1, 0x1.5197260000000p+0f}}},
        // torch.randn(15, dtype=torch.float64)
        {Op::kNormal, false, 15, 0.0, 1.0, 0x252cdb084227b85fULL,
         {{0, 0x1.2436b0b61fd79p-1}, {1, 0x1.4880859738116p+0}, {2, 0x1.b8c4b16c3b362p-5}, {3, -0x1.5a17bdf188516p-2}, {4, -0x1.b53bd0495225fp-2}, {5, -0x1.c03901643d378p-2}, {6, 0x1.5a2c2a2f559cdp+0}, {7, -0x1.8064b1184aaa3p+0}, {8, -0x1.1a1ec24b8ef86p-3}, {9, 0x1.0b7a84011f61dp+0}, {10, 0x1.d4f5f69eab2a4p+0}, {11, 0x1.70e761c747d44p-1}, {12, -0x1.cafb22755a0ccp-4}, {13, -0x1.faa703185eb4ap-6}, {14, -0x1.33c5045f5973fp-3}}},
        // torch.randn(16, dtype=torch.float32)
        {Op::kNormal, true, 16, 0.0, 1.0, 0x107379121a61aa1aULL,
         {{0, -0x1.9c7ff40000000p-1f}, {1, -0x1.a91e0a0000000p-3f}, {2, -0x1.dd28440000000p-1f}, {3, -0x1.9749900000000p+0f}, {4, -0x1.22cf4e0000000p+0f}, {5, -0x1.0b91ea0000000p-1f}, {6, 0x1.6eddea0000000p-1f}, {7, 0x1.8891500000000p+0f}, {8, -0x1.ed39360000000p+0f}, {9, 0x1.05d6de0000000p-3f}, {10, 0x1.05dda60000000p+0f}, {11, -0x1.1c912e0000000p-1f}, {12, 0x1.6896700000000p-1f}, {13, 0x1.6b74de0000000p-1f}, {14, -0x1.88599e0000000p+0f}, {15, -0x1.7344680000000p-1f}}},
        // torch.rand(100, dtype=torch.float32)
        {Op::kUniform, true, 100, 0.0, 1.0, 0x5624b05105db7ae3ULL,
         {{0, 0x1.cd50380000000p-2f}, {1, 0x1.8d5d640000000p-2f}, {2, 0x1.03bc520000000p-1f}, {33, 0x1.5d4c7a0000000p-1f}, {50, 0x1.a2b3980000000p-2f}, {66, 0x1.b6e5100000000p-1f}, {97, 0x1.2f0ae80000000p-2f}, {98, 0x1.8d0e000000000p-5f}, {99, 0x1.b800800000000p-7f}}},
        // torch.randn(300, dtype=torch.float64)
        {Op::kNormal, false, 300, 0.0, 1.0, 0xed6b27d1cbb7f30cULL,
         {{0, -0x1.342c557107e90p-3}, {1, -0x1.08c91d846e8f0p+0}, {2, 0x1.ba468175f0ad0p-2}, {100, -0x1.7f2009dcc9bfdp-1}, {150, -0x1.a8862125961a6p-5}, {200, -0x1.dd3715832d46ep-1}, {297, -0x1.b3701c28f450ep+0}, {298, -0x1.60a193c782354p-2}, {299, -0x1.e918b58c23591p-1}}},
    }},
    // Seed0MeanStdAndRanges: torch.manual_seed(0)
    {"Seed0MeanStdAndRanges", 0ULL, false, {
        // torch.empty(7, dtype=torch.float32).normal_(2.0, 3.0)
        {Op::kNormal, true, 7, 2.0, 3.0, 0x51ccde3a1401d50aULL,
         {{0, 0x1.a7df0a0000000p+2f}, {1, 0x1.1ea5880000000p+0f}, {2, -0x1.2253dc0000000p+2f}, {3, 0x1.da47120000000p+1f}, {4, -0x1.40e9c40000000p+0f}, {5, -0x1.190f860000000p+1f}, {6, 0x1.9ae29c0000000p+1f}}},
        // torch.empty(40, dtype=torch.float32).normal_(2.0, 3.0)
        {Op::kNormal, true, 40, 2.0, 3.0, 0xc2720c497cda67c1ULL,
         {{0, -0x1.076b460000000p+1f}, {1, -0x1.8b3cd20000000p+1f}, {2, 0x1.d998060000000p+1f}, {13, 0x1.b093800000000p+2f}, {20, 0x1.a8d7dc0000000p+1f}, {26, 0x1.1f81d80000000p-2f}, {37, 0x1.6b22120000000p+0f}, {38, 0x1.ab13a00000000p+1f}, {39, 0x1.7e73e80000000p+2f}}},
        // torch.empty(7, dtype=torch.float64).normal_(-1.5, 0.25)
        {Op::kNormal, false, 7, -1.5, 0.25, 0xbbb7755e81a8f4cfULL,
         {{0, -0x1.4a5dc6cca5a5dp+0}, {1, -0x1.c1e6a3fae8adep+0}, {2, -0x1.a00c6d0316a2bp+0}, {3, -0x1.6e812499ed131p+0}, {4, -0x1.bac22664300dcp+0}, {5, -0x1.8296425431285p+0}, {6, -0x1.6d8f7e70c5871p+0}}},
        // torch.empty(40, dtype=torch.float64).normal_(-1.5, 0.25)
        {Op::kNormal, false, 40, -1.5, 0.25, 0x4d5e32a1ac5b77cbULL,
         {{0, -0x1.7752cd6a0e8bbp+0}, {1, -0x1.822b4d344c366p+0}, {2, -0x1.6287ad0a39a27p+0}, {13, -0x1.71dc6006164e6p+0}, {20, -0x1.76bdbe2c37006p+0}, {26, -0x1.46f16256190e7p+0}, {37, -0x1.471f4d60d75b4p+0}, {38, -0x1.385149a40cbfbp+0}, {39, -0x1.596f3dc991247p+0}}},
        // torch.empty(7, dtype=torch.float32).uniform_(-3.0, 5.0)
        {Op::kUniform, true, 7, -3.0, 5.0, 0x6f74de98440b5fa4ULL,
         {{0, -0x1.54b0c00000000p+0f}, {1, 0x1.2ef9340000000p+1f}, {2, -0x1.6237100000000p+0f}, {3, 0x1.d351800000000p-1f}, {4, 0x1.2b13e80000000p+0f}, {5, 0x1.ca0c080000000p+1f}, {6, -0x1.0307f40000000p+1f}}},
        // torch.empty(7, dtype=torch.float64).uniform_(-3.0, 5.0)
        {Op::kUniform, false, 7, -3.0, 5.0, 0xaa8496810c0f96ddULL,
         {{0, -0x1.efd0a1e5298f0p-1}, {1, 0x1.b2ed7eca3fa1ap+1}, {2, -0x1.11f80a36db000p-7}, {3, 0x1.0d5224dfc304cp+0}, {4, -0x1.53681a1bfc2e0p+0}, {5, -0x1.274cadb01cc7cp+1}, {6, 0x1.153e0e46f82d0p+0}}},
        // torch.empty(40, dtype=torch.float32).uniform_(10.0, 10.5)
        {Op::kUniform, true, 40, 10.0, 10.5, 0x9a1680800c6f5a6bULL,
         {{0, 0x1.43ce940000000p+3f}, {1, 0x1.4e75be0000000p+3f}, {2, 0x1.4181f40000000p+3f}, {13, 0x1.4816660000000p+3f}, {20, 0x1.4258460000000p+3f}, {26, 0x1.4803480000000p+3f}, {37, 0x1.43401e0000000p+3f}, {38, 0x1.450a920000000p+3f}, {39, 0x1.4012200000000p+3f}}},
        // torch.empty(40, dtype=torch.float64).uniform_(0.001, 0.002)
        {Op::kUniform, false, 40, 0.001, 0.002, 0xff8328407467a8e5ULL,
         {{0, 0x1.d952273d8555cp-10}, {1, 0x1.5cd1af0bf9ee1p-10}, {2, 0x1.54bdbde166b0bp-10}, {13, 0x1.3783784e7db16p-10}, {20, 0x1.0bfda9f97c69dp-10}, {26, 0x1.884b737daa88dp-10}, {37, 0x1.99070224daad8p-10}, {38, 0x1.937b1d92ac368p-10}, {39, 0x1.9a3f6a55035eep-10}}},
    }},
    // Seed4294967303: torch.manual_seed(4294967303)
    {"Seed4294967303", 4294967303ULL, false, {
        // torch.randn(17, dtype=torch.float32)
        {Op::kNormal, true, 17, 0.0, 1.0, 0xb8b2b898064e9a44ULL,
         {{0, -0x1.a3e8ac0000000p-1f}, {1, -0x1.4c5b320000000p-2f}, {2, 0x1.ed26760000000p+0f}, {3, -0x1.51ee980000000p-2f}, {4, 0x1.966a5c0000000p-3f}, {5, 0x1.906bd40000000p-1f}, {6, 0x1.0a02f60000000p+0f}, {7, -0x1.72f3120000000p-1f}, {8, -0x1.b2a4260000000p-1f}, {9, -0x1.b904fa0000000p-3f}, {10, -0x1.d0d3980000000p+0f}, {11, -0x1.61871c0000000p-2f}, {12, -0x1.07de820000000p+1f}, {13, 0x1.5923ba0000000p-1f}, {14, -0x1.52c6ca0000000p+0f}, {15, -0x1.5c19d20000000p+0f}, {16, -0x1.bbc0500000000p-1f}}},
        // torch.randn(2, dtype=torch.float64)
        {Op::kNormal, false, 2, 0.0, 1.0, 0x250632b270acae42ULL,
         {{0, -0x1.6a6e6eb26497dp+0}, {1, -0x1.f12e89ac4ddf8p-2}}},
    }},
    // Seed0Large: torch.manual_seed(0)
    {"Seed0Large", 0ULL, false, {
        // torch.randn(1000000, dtype=torch.float32)
        {Op::kNormal, true, 1000000, 0.0, 1.0, 0x1d80f3c9d0410a6dULL,
         {{0, -0x1.20370a0000000p+0f}, {1, -0x1.2701140000000p+0f}, {2, -0x1.0097ac0000000p-2f}, {333333, 0x1.92c7440000000p-3f}, {500000, 0x1.350acc0000000p-1f}, {666666, -0x1.2261720000000p-1f}, {999997, -0x1.0d3f320000000p-1f}, {999998, -0x1.3113bc0000000p-6f}, {999999, -0x1.c81b2e0000000p-6f}}},
        // torch.randn(100000, dtype=torch.float64)
        {Op::kNormal, false, 100000, 0.0, 1.0, 0x15662c282f0b1d3fULL,
         {{0, -0x1.facffc0e956c7p-2}, {1, 0x1.61414fd6ae1aap+0}, {2, -0x1.5a96cde151deep-4}, {33333, -0x1.7046470874c5ep+0}, {50000, 0x1.8a9edd13670fdp-4}, {66666, 0x1.b40b3bd1ad826p-6}, {99997, -0x1.e6b72aa81670dp+0}, {99998, -0x1.09a725fc5a5a8p-1}, {99999, 0x1.358ec4ab36dfcp-1}}},
        // torch.empty(300001, dtype=torch.float32).normal_(0.3, 7.5)
        {Op::kNormal, true, 300001, 0.3, 7.5, 0xf78c9c14f912322bULL,
         {{0, -0x1.6f12200000000p-1f}, {1, -0x1.af8f340000000p+1f}, {2, -0x1.695f2a0000000p+2f}, {100000, -0x1.3893940000000p+3f}, {150000, -0x1.003e9c0000000p+1f}, {200000, 0x1.4694040000000p+3f}, {299998, -0x1.f537180000000p+3f}, {299999, 0x1.1fdaf00000000p+2f}, {300000, 0x1.1a38d00000000p+0f}}},
    }},
    // Element 118755 (~5.9e-7) has its angle next to pi/2, where the last fused
    // multiply-add of the Cephes range reduction decides the low bits.
    // Seed133Float32NearZero: torch.manual_seed(133)
    {"Seed133Float32NearZero", 133ULL, false, {
        // torch.randn(118784, dtype=torch.float32)
        {Op::kNormal, true, 118784, 0.0, 1.0, 0x4e7ec5dffb99ccffULL,
         {{0, -0x1.ea18060000000p-1f}, {1, -0x1.fdf4280000000p+0f}, {2, 0x1.1338da0000000p-1f}, {39594, 0x1.71cfe60000000p+0f}, {59392, -0x1.9275080000000p-4f}, {79189, -0x1.92e64c0000000p-1f}, {118755, 0x1.3dc9120000000p-21f}, {118781, -0x1.6af9140000000p-1f}, {118782, -0x1.286d3c0000000p+0f}, {118783, -0x1.8988b40000000p-3f}}},
    }},
    // Seed0NonContiguous: torch.manual_seed(0)
    {"Seed0NonContiguous", 0ULL, false, {
        // x = torch.empty(5, 4, dtype=torch.float32).t(); x.normal_(); x.t().flatten()  # non-contiguous
        {Op::kNormalSerial, true, 20, 0.0, 1.0, 0x562a9b3508b4a1bdULL,
         {{0, 0x1.8a7eb80000000p+0f}, {1, -0x1.2c78a00000000p-2f}, {2, -0x1.16e2920000000p+1f}, {6, 0x1.9d06f40000000p-2f}, {10, -0x1.317a300000000p-1f}, {13, 0x1.19c1320000000p+0f}, {17, 0x1.7e11c40000000p-2f}, {18, -0x1.c8b39c0000000p-1f}, {19, -0x1.8254e20000000p+0f}}},
        // x = torch.empty(5, 4, dtype=torch.float64).t(); x.normal_(); x.t().flatten()  # non-contiguous
        {Op::kNormalSerial, false, 20, 0.0, 1.0, 0xa3a96a1deabd33caULL,
         {{0, 0x1.7b487141f6310p-2}, {1, 0x1.74dd5ad6b407cp+0}, {2, 0x1.e12ec3a63bfcdp-1}, {6, -0x1.4a59f475c30cdp+0}, {10, 0x1.098ac1867f35fp-1}, {13, 0x1.15e6205661fa6p-1}, {17, -0x1.00636818b5155p-1}, {18, 0x1.17edb6612ececp-2}, {19, -0x1.d6113321806dep-1}}},
        // torch.randn(1, dtype=torch.float32)
        {Op::kNormal, true, 1, 0.0, 1.0, 0xf4e4f00892e69506ULL,
         {{0, -0x1.4b212a0000000p-5f}}},
    }},
  };
  return table;
}

// torch's baseline stream: ATEN_CPU_CAPABILITY=default python -c "import torch; ..."
const std::vector<Scenario>& baseline_scenarios() {
  static const std::vector<Scenario> table = {
    // BaselineSeed0: torch.manual_seed(0)
    {"BaselineSeed0", 0ULL, false, {
        // torch.randn(100, 3)  # the chapter's x
        {Op::kNormal, true, 300, 0.0, 1.0, 0x12cba3e072f36a83ULL,
         {{0, -0x1.20370a0000000p+0f}, {1, -0x1.2701140000000p+0f}, {2, -0x1.0097ac0000000p-2f}, {100, -0x1.4e815a0000000p+1f}, {150, -0x1.9bc7660000000p-3f}, {200, -0x1.30b8b80000000p-4f}, {297, 0x1.e9eb960000000p-2f}, {298, -0x1.3ac2180000000p+0f}, {299, -0x1.5ebaba0000000p+0f}}},
        // torch.randn(100)  # the chapter's y
        {Op::kNormal, true, 100, 0.0, 1.0, 0x2e48a95dcdb44ed4ULL,
         {{0, 0x1.ae29880000000p-2f}, {1, 0x1.21087e0000000p+0f}, {2, 0x1.b4978e0000000p-2f}, {33, -0x1.cb42340000000p-5f}, {50, 0x1.1175b40000000p+1f}, {66, -0x1.7e25800000000p+0f}, {97, -0x1.2e01a80000000p-1f}, {98, 0x1.edec580000000p-1f}, {99, -0x1.8264d80000000p+0f}}},
        // torch.randn(3, 32)  # the chapter's w1
        {Op::kNormal, true, 96, 0.0, 1.0, 0x56470f2573ec6ce0ULL,
         {{0, 0x1.20bbc80000000p+1f}, {1, 0x1.3a925a0000000p+0f}, {2, -0x1.f11ca40000000p-2f}, {32, 0x1.5ef8ae0000000p-2f}, {48, -0x1.1f48d40000000p-1f}, {64, 0x1.74f8ae0000000p-2f}, {93, 0x1.40d1960000000p+0f}, {94, -0x1.c731100000000p-2f}, {95, 0x1.a30c220000000p-1f}}},
        // torch.randn(32, 1)  # the chapter's w2
        {Op::kNormal, true, 32, 0.0, 1.0, 0xc0145e7594c28d4aULL,
         {{0, -0x1.a2d3020000000p-1f}, {1, 0x1.70f6b00000000p-2f}, {2, -0x1.9d57200000000p+0f}, {10, 0x1.b27b900000000p+1f}, {16, 0x1.4ba6080000000p+0f}, {21, -0x1.2adca20000000p+1f}, {29, 0x1.f929800000000p+0f}, {30, -0x1.a8fb860000000p-3f}, {31, -0x1.f4eeb80000000p-6f}}},
        // torch.empty(64, dtype=torch.float32).normal_(0.3, 7.5)
        {Op::kNormal, true, 64, 0.3, 7.5, 0xa953545e8d785efbULL,
         {{0, 0x1.401e380000000p+0f}, {1, 0x1.5dcc300000000p-2f}, {2, 0x1.907b360000000p+2f}, {21, 0x1.5d1a120000000p+1f}, {32, 0x1.306a6e0000000p+1f}, {42, 0x1.4849e40000000p+3f}, {61, -0x1.7348c80000000p-1f}, {62, -0x1.d584600000000p+2f}, {63, 0x1.a3569e0000000p+0f}}},
        // torch.empty(7, dtype=torch.float32).normal_(0.3, 7.5)
        {Op::kNormal, true, 7, 0.3, 7.5, 0x49de64795e12a21fULL,
         {{0, 0x1.827ece0000000p+2f}, {1, -0x1.a1d7380000000p+2f}, {2, -0x1.4a16060000000p+2f}, {3, 0x1.dbf9e60000000p+2f}, {4, -0x1.0576b60000000p-1f}, {5, 0x1.1f6be20000000p+3f}, {6, -0x1.2375b40000000p+4f}}},
        // torch.empty(100, dtype=torch.float32).uniform_(-3.0, 4.7)
        {Op::kUniform, true, 100, -3.0, 4.7, 0xc952aec5887ae2a0ULL,
         {{0, -0x1.6dfca80000000p+0f}, {1, 0x1.6700200000000p+0f}, {2, 0x1.0a18f80000000p+1f}, {33, 0x1.0c82540000000p+1f}, {50, 0x1.32c1e40000000p+1f}, {66, 0x1.5860680000000p+0f}, {97, -0x1.f7422a0000000p+0f}, {98, 0x1.fa31a00000000p+0f}, {99, -0x1.e32dc20000000p+0f}}},
        // torch.empty(100, dtype=torch.float64).uniform_(-3.0, 4.7)
        {Op::kUniform, false, 100, -3.0, 4.7, 0xf1fa839adaac535bULL,
         {{0, 0x1.ae13b2ab89c48p+1}, {1, -0x1.ae2faf1450df5p+0}, {2, 0x1.e5f5073bd5636p+1}, {33, 0x1.21bb62eaa3c22p+2}, {50, -0x1.bd0261e22558cp-1}, {66, -0x1.7f5f173902eeep+1}, {97, 0x1.3eb55cf9aba8cp+0}, {98, 0x1.09d34b3cd43acp+1}, {99, 0x1.f25d00be0f650p+1}}},
        // torch.empty(15, dtype=torch.float64).normal_(0.3, 7.5)
        {Op::kNormal, false, 15, 0.3, 7.5, 0xbfa2646d449d80fbULL,
         {{0, 0x1.87ecbb86ae221p+3}, {1, 0x1.96e930d670d17p+2}, {2, -0x1.1f031d6f00473p+2}, {3, -0x1.1389949a5cdc3p+2}, {4, 0x1.4830dbbb8da20p+1}, {5, -0x1.1dd34d1a99a60p+3}, {6, -0x1.55119098c7f24p+1}, {7, -0x1.4e418af44e348p-1}, {8, -0x1.c8ed2fc1e5572p+2}, {9, -0x1.91e9b5a7988b6p+2}, {10, -0x1.1381223458432p+0}, {11, 0x1.c57a008956d82p+2}, {12, 0x1.1483d762c28ccp+3}, {13, 0x1.754ace154a622p+0}, {14, 0x1.db77e0d7f9df4p-2}}},
        // torch.empty(40, dtype=torch.float64).normal_(0.3, 7.5)
        {Op::kNormal, false, 40, 0.3, 7.5, 0x5240fa2f8631da05ULL,
         {{0, -0x1.ba267aced97f9p+3}, {1, 0x1.705806a309dc1p+2}, {2, -0x1.8f048fc71f2dfp+3}, {13, -0x1.2b23964eada88p+0}, {20, -0x1.fda1fedd7ea2cp-8}, {26, -0x1.06c3ccd86cb6bp+3}, {37, -0x1.b956ef4286f64p+1}, {38, 0x1.7cccc80316666p+3}, {39, 0x1.6b89544355bbep+3}}},
        // x = torch.empty(5, 4, dtype=torch.float64).t(); x.normal_(0.3, 7.5); x.t().flatten()  # non-contiguous
        {Op::kNormalSerial, false, 20, 0.3, 7.5, 0xb0f088ca868945bfULL,
         {{0, -0x1.f2f7a7b8043f7p+2}, {1, -0x1.92b314f0f9295p+0}, {2, -0x1.2faa2811a5283p+3}, {6, -0x1.76c45d872dc17p+2}, {10, -0x1.391fe6da14013p+1}, {13, 0x1.d967a9ca383cep+3}, {17, 0x1.18b7a03157594p+1}, {18, -0x1.0ee879754b70ap+3}, {19, -0x1.ce4f19715cb8cp-4}}},
    }},
  };
  return table;
}
// clang-format on

template <typename T>
void run_call(const Call& c, Generator& g) {
  std::vector<T> out(static_cast<size_t>(c.n));
  switch (c.op) {
    case Op::kNormal: ember::fill_normal(out.data(), c.n, c.a, c.b, g); break;
    case Op::kUniform: ember::fill_uniform(out.data(), c.n, c.a, c.b, g); break;
    case Op::kNormalSerial: ember::fill_normal_serial(out.data(), c.n, c.a, c.b, g); break;
  }
  for (const Sample& s : c.samples) {
    EXPECT_EQ(bits(out[static_cast<size_t>(s.index)]), bits(static_cast<T>(s.value)))
        << "element " << s.index << ": got " << out[static_cast<size_t>(s.index)] << ", torch "
        << static_cast<T>(s.value);
  }
  EXPECT_EQ(fnv1a64(out.data(), out.size() * sizeof(T)), c.fnv) << "hash of all " << c.n << " elements";
}

void run_scenario(const Scenario& sc, Generator& g) {
  for (size_t i = 0; i < sc.calls.size(); ++i) {
    const Call& c = sc.calls[i];
    SCOPED_TRACE(::testing::Message() << sc.name << " call #" << i << " n=" << c.n
                                      << (c.f32 ? " float32" : " float64"));
    if (c.f32) {
      run_call<float>(c, g);
    } else {
      run_call<double>(c, g);
    }
  }
}

// The table of the stream this process reproduces.
const std::vector<Scenario>& stream_scenarios() {
  const std::string stream = ember::kernels::torch_capability();
  // torch's AVX512 build draws the AVX2 build's streams (both fuse the multiply-adds).
  EXPECT_TRUE(stream == "AVX2" || stream == "AVX512" || stream == "DEFAULT") << stream;
  return stream == "DEFAULT" ? baseline_scenarios() : scenarios();
}

TEST(Random, MatchesTorchStreams) {
  for (const Scenario& sc : stream_scenarios()) {
    if (sc.default_constructed) {
      Generator g;
      EXPECT_EQ(g.initial_seed(), 67280421310721ULL);
      run_scenario(sc, g);
    } else {
      Generator g(sc.seed);
      EXPECT_EQ(g.initial_seed(), sc.seed);
      run_scenario(sc, g);
    }
  }
}

TEST(Random, DefaultGeneratorAndFreeManualSeed) {
  // ember::manual_seed(0) then fills on default_generator() == torch.manual_seed(0) stream.
  const Scenario* seed0 = nullptr;
  for (const Scenario& sc : stream_scenarios())
    if (std::string(sc.name) == "Seed0Float32RandnSizes" || std::string(sc.name) == "BaselineSeed0") seed0 = &sc;
  ASSERT_NE(seed0, nullptr);
  ember::manual_seed(0);
  EXPECT_EQ(ember::default_generator().initial_seed(), 0u);
  run_scenario(*seed0, ember::default_generator());
  ember::manual_seed(Generator::kDefaultSeed);
}

TEST(Random, EngineIsStandardMT19937) {
  // The C++ standard fixes the 10000th output of default-seeded mt19937.
  Generator g(5489);
  uint32_t v = 0;
  for (int i = 0; i < 10000; ++i) v = g.random();
  EXPECT_EQ(v, 4123659995u);
  // Seeded with the low 32 bits of the seed.
  for (uint64_t seed : {0ULL, 42ULL, (1ULL << 32) + 7, 0xffffffffffffffffULL}) {
    Generator e(seed);
    std::mt19937 ref(static_cast<uint32_t>(seed));
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(e.random(), ref()) << "seed " << seed << " draw " << i;
    EXPECT_EQ(e.initial_seed(), seed);
  }
}

TEST(Random, Random64IsFirstDrawHigh) {
  Generator a(7), b(7);
  for (int i = 0; i < 100; ++i) {
    const uint64_t hi = b.random();
    const uint64_t lo = b.random();
    ASSERT_EQ(a.random64(), (hi << 32) | lo);
  }
}

TEST(Random, ManualSeedResetsEngineAndCache) {
  Generator g(0);
  float x1, x2, y1;
  ember::fill_normal(&x1, 1, 0.0, 1.0, g);  // leaves the sine sample cached
  EXPECT_TRUE(g.has_cached_normal());
  ember::fill_normal(&x2, 1, 0.0, 1.0, g);  // consumes it
  EXPECT_FALSE(g.has_cached_normal());
  ember::fill_normal(&y1, 1, 0.0, 1.0, g);
  g.manual_seed(0);
  EXPECT_FALSE(g.has_cached_normal());
  float z[2];
  ember::fill_normal(z, 2, 0.0, 1.0, g);
  EXPECT_EQ(bits(z[0]), bits(x1));
  EXPECT_EQ(bits(z[1]), bits(x2));
  g.manual_seed(0);
  ember::fill_normal(&y1, 1, 0.0, 1.0, g);  // cached...
  g.manual_seed(0);                          // ...and dropped by reseeding
  float w;
  ember::fill_normal(&w, 1, 0.0, 1.0, g);
  EXPECT_EQ(bits(w), bits(x1));
}

TEST(Random, BlockPathAndUniformsLeaveCacheAlone) {
  Generator g(3);
  double d;
  ember::fill_normal(&d, 1, 0.0, 1.0, g);
  ASSERT_TRUE(g.has_cached_normal());
  const double cached = g.cached_normal();
  std::vector<float> f(40);
  std::vector<double> dd(33);
  ember::fill_normal(f.data(), 40, 0.0, 1.0, g);
  ember::fill_normal(dd.data(), 33, 0.0, 1.0, g);
  ember::fill_uniform(f.data(), 40, 0.0, 1.0, g);
  ember::fill_uniform(dd.data(), 33, -1.0, 1.0, g);
  ASSERT_TRUE(g.has_cached_normal());
  EXPECT_EQ(bits(g.cached_normal()), bits(cached));
  // The cache serves float32 and float64 requests alike: next float equals the cached double.
  float next;
  ember::fill_normal(&next, 1, 0.0, 1.0, g);
  EXPECT_EQ(bits(next), bits(static_cast<float>(cached)));
}

TEST(Random, BlockPathRedrawsTheLast16) {
  // randn(17) = randn(16)'s first element, then 16 elements from 16 fresh uniforms.
  Generator a(11), b(11);
  std::vector<float> x(16), y(17);
  ember::fill_normal(x.data(), 16, 0.0, 1.0, a);
  ember::fill_normal(y.data(), 17, 0.0, 1.0, b);
  EXPECT_EQ(bits(x[0]), bits(y[0]));
  EXPECT_NE(bits(x[1]), bits(y[1]));
  // 17 + 16 draws were used.
  for (int i = 0; i < 17; ++i) a.random();
  EXPECT_EQ(a.random(), b.random());
}

TEST(Random, SizeZeroDrawsNothing) {
  Generator g(9);
  ember::fill_normal(static_cast<float*>(nullptr), 0, 0.0, 1.0, g);
  ember::fill_normal(static_cast<double*>(nullptr), 0, 0.0, 1.0, g);
  ember::fill_uniform(static_cast<float*>(nullptr), 0, 0.0, 1.0, g);
  ember::fill_uniform(static_cast<double*>(nullptr), 0, 0.0, 1.0, g);
  EXPECT_EQ(g.get_state(), Generator(9).get_state());
}

TEST(Random, StateBytesMatchTorchGetRngState) {
  Generator g(0);
  float x[3];
  ember::fill_normal(x, 3, 0.0, 1.0, g);
  const std::vector<uint8_t> st = g.get_state();
  ASSERT_EQ(st.size(), Generator::kStateSize);
  EXPECT_EQ(fnv1a64(st.data(), st.size()), kStateHashSeed0Randn3);

  // Round trip, including the cached sample.
  Generator h(12345);
  ASSERT_TRUE(h.set_state(st.data(), st.size()));
  EXPECT_EQ(h.initial_seed(), 0u);
  EXPECT_TRUE(h.has_cached_normal());
  std::vector<float> a(50), b(50);
  ember::fill_normal(a.data(), 50, 0.0, 1.0, g);
  ember::fill_normal(b.data(), 50, 0.0, 1.0, h);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), 50 * sizeof(float)), 0);

  // Invalid states are refused and change nothing.
  const std::vector<uint8_t> before = h.get_state();
  EXPECT_FALSE(h.set_state(st.data(), st.size() - 1));
  std::vector<uint8_t> bad = st;
  const int32_t zero_left = 0;
  std::memcpy(bad.data() + 8, &zero_left, 4);
  EXPECT_FALSE(h.set_state(bad.data(), bad.size()));
  EXPECT_EQ(h.get_state(), before);
}

TEST(Random, ConcurrentFillsAreAtomic) {
  // Each fill takes the lock for its whole duration, so whatever the interleaving
  // the generator ends where the same draws made in sequence end.
  constexpr int kThreads = 4, kCalls = 50, kN = 1000;
  Generator shared(77);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&shared, t] {
      std::vector<float> f(kN);
      std::vector<double> d(kN);
      for (int i = 0; i < kCalls; ++i) {
        if ((i + t) % 2) {
          ember::fill_uniform(f.data(), kN, 0.0, 1.0, shared);  // kN draws
        } else {
          ember::fill_normal(d.data(), kN, 0.0, 1.0, shared);   // 2 * (kN + 16) draws
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  Generator seq(77);
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kCalls; ++i) {
      const int draws = ((i + t) % 2) ? kN : 2 * (kN + 16);
      for (int k = 0; k < draws; ++k) seq.random();
    }
  EXPECT_EQ(shared.get_state(), seq.get_state());
}

}  // namespace
