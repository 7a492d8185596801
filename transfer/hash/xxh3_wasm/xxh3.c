/*
 * XXH3-128 for WebAssembly with SIMD128, built by build.sh from Debian's
 * xxhash.h (0.8.1, BSD-2-Clause, Yann Collet) into xxh3_module.ts.
 *
 * xxhash.h has no WebAssembly SIMD path, so build.sh points its scalar
 * accumulate and scramble steps at the two functions below: the SSE2
 * algorithm written with wasm_simd128.h. The digests are XXH3-128's own
 * (checked against hash-wasm in tests/checksum_test.ts).
 *
 * The state lives wherever the caller puts it in linear memory, and data
 * is hashed where it lies, so a buffer in this module's memory is hashed
 * without a copy.
 */
#include <wasm_simd128.h>
#include <stddef.h>

static inline __attribute__((always_inline)) void
XXH3_accumulate_512_wasm(void* restrict acc, const void* restrict input,
                         const void* restrict secret)
{
    v128_t* const xacc = (v128_t*)acc;
    const char* const xinput = (const char*)input;
    const char* const xsecret = (const char*)secret;
    for (size_t i = 0; i < 4; i++) {
        v128_t const data_vec = wasm_v128_load(xinput + 16 * i);
        v128_t const key_vec = wasm_v128_load(xsecret + 16 * i);
        v128_t const data_key = wasm_v128_xor(data_vec, key_vec);
        /* (low 32 bits) * (high 32 bits) of each 64-bit lane */
        v128_t const lo = wasm_i32x4_shuffle(data_key, data_key, 0, 2, 0, 2);
        v128_t const hi = wasm_i32x4_shuffle(data_key, data_key, 1, 3, 1, 3);
        v128_t const product = wasm_u64x2_extmul_low_u32x4(lo, hi);
        /* the input added with its two 64-bit lanes swapped */
        v128_t const data_swap = wasm_i64x2_shuffle(data_vec, data_vec, 1, 0);
        v128_t const sum = wasm_i64x2_add(xacc[i], data_swap);
        xacc[i] = wasm_i64x2_add(product, sum);
    }
}

static inline __attribute__((always_inline)) void
XXH3_scrambleAcc_wasm(void* restrict acc, const void* restrict secret)
{
    v128_t* const xacc = (v128_t*)acc;
    const char* const xsecret = (const char*)secret;
    v128_t const prime = wasm_i64x2_splat(0x9E3779B1U); /* XXH_PRIME32_1 */
    for (size_t i = 0; i < 4; i++) {
        v128_t a = xacc[i];
        a = wasm_v128_xor(a, wasm_u64x2_shr(a, 47));
        a = wasm_v128_xor(a, wasm_v128_load(xsecret + 16 * i));
        xacc[i] = wasm_i64x2_mul(a, prime);
    }
}

#define XXH_STATIC_LINKING_ONLY
#define XXH_INLINE_ALL
#define XXH_NO_STDLIB
#define XXH_VECTOR XXH_SCALAR
#include "xxhash.h"

#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("state_size") unsigned state_size(void) { return sizeof(XXH3_state_t); }

EXPORT("reset") void reset(XXH3_state_t* state)
{
    XXH3_INITSTATE(state);
    XXH3_128bits_reset(state);
}

EXPORT("update") void update(XXH3_state_t* state, const void* data, size_t length)
{
    XXH3_128bits_update(state, data, length);
}

/* The canonical (big-endian) digest into out[16]; the state goes on. */
EXPORT("digest") void digest(const XXH3_state_t* state, unsigned char* out)
{
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state));
    __builtin_memcpy(out, canonical.digest, 16);
}
