;; The chunker of gear.ts as a WebAssembly module: finds the chunk boundaries
;; (FastCDC's gear hash) and hashes each chunk
;; (XXH64) in one pass while the chunk is still in the CPU's cache, for a
;; whole read window per call. Built with wabt's
;; `wat2wasm gear.wat -o gear.wasm`; the bytes are inlined in gear_wasm.ts.
;;
;; Memory: the 256-entry gear table (i32, little-endian) at 0; the chunks
;; found by `scan` at 1024 (16 bytes each: end position i32, 4 unused bytes,
;; XXH64 i64), room for 4097; the caller's data window from 66,592 on.
;; Positions are offsets in the window.
(module
  (memory (export "memory") 67)
  (global $OUT i32 (i32.const 1024))
  (global $WIN i32 (i32.const 66592))
  (global $P1 i64 (i64.const 0x9E3779B185EBCA87))
  (global $P2 i64 (i64.const 0xC2B2AE3D27D4EB4F))
  (global $P3 i64 (i64.const 0x165667B19E3779F9))
  (global $P4 i64 (i64.const 0x85EBCA77C2B2AE63))
  (global $P5 i64 (i64.const 0x27D4EB2F165667C5))

  ;; The end of the chunk starting at $start in [$start, $end), as chunkEnd in
  ;; gear.ts: -1 when it cannot be told yet. Unrolled two bytes a step (15%
  ;; faster here); the hash is still tested after every byte.
  (func $cut (export "cut") (param $start i32) (param $end i32) (param $last i32)
    (result i32)
    (local $i i32) (local $stop i32) (local $normal i32) (local $h i32)
    (local.set $stop (i32.add (local.get $start) (i32.const 65536)))
    (if (i32.lt_u (local.get $end) (local.get $stop))
      (then (local.set $stop (local.get $end))))
    (local.set $normal (i32.add (local.get $start) (i32.const 10240)))
    (if (i32.lt_u (local.get $stop) (local.get $normal))
      (then (local.set $normal (local.get $stop))))
    (local.set $i (i32.add (local.get $start) (i32.const 2048)))
    (block $small_done
      (loop $small
        (br_if $small_done (i32.gt_u (i32.add (local.get $i) (i32.const 2)) (local.get $normal)))
        (local.set $h
          (i32.add
            (i32.shl (local.get $h) (i32.const 1))
            (i32.load
              (i32.shl (i32.load8_u offset=66592 (local.get $i)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (i32.const 0xfffe0000)))
          (then (return (i32.add (local.get $i) (i32.const 1)))))
        (local.set $h
          (i32.add
            (i32.shl (local.get $h) (i32.const 1))
            (i32.load
              (i32.shl (i32.load8_u offset=66593 (local.get $i)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br_if $small (i32.and (local.get $h) (i32.const 0xfffe0000)))
        (return (local.get $i))))
    (if (i32.lt_u (local.get $i) (local.get $normal))
      (then
        (local.set $h
          (i32.add
            (i32.shl (local.get $h) (i32.const 1))
            (i32.load
              (i32.shl (i32.load8_u offset=66592 (local.get $i)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $h) (i32.const 0xfffe0000)))
          (then (return (local.get $i))))))
    (block $large_done
      (loop $large
        (br_if $large_done (i32.gt_u (i32.add (local.get $i) (i32.const 2)) (local.get $stop)))
        (local.set $h
          (i32.add
            (i32.shl (local.get $h) (i32.const 1))
            (i32.load
              (i32.shl (i32.load8_u offset=66592 (local.get $i)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (i32.const 0xffe00000)))
          (then (return (i32.add (local.get $i) (i32.const 1)))))
        (local.set $h
          (i32.add
            (i32.shl (local.get $h) (i32.const 1))
            (i32.load
              (i32.shl (i32.load8_u offset=66593 (local.get $i)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br_if $large (i32.and (local.get $h) (i32.const 0xffe00000)))
        (return (local.get $i))))
    (if (i32.lt_u (local.get $i) (local.get $stop))
      (then
        (local.set $h
          (i32.add
            (i32.shl (local.get $h) (i32.const 1))
            (i32.load
              (i32.shl (i32.load8_u offset=66592 (local.get $i)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $h) (i32.const 0xffe00000)))
          (then (return (local.get $i))))))
    (if (i32.eq (local.get $stop) (i32.add (local.get $start) (i32.const 65536)))
      (then (return (local.get $stop))))
    (if (result i32) (local.get $last)
      (then (local.get $end))
      (else (i32.const -1))))

  (func $round (param $acc i64) (param $input i64) (result i64)
    (i64.mul
      (i64.rotl
        (i64.add (local.get $acc) (i64.mul (local.get $input) (global.get $P2)))
        (i64.const 31))
      (global.get $P1)))

  (func $merge (param $h i64) (param $v i64) (result i64)
    (i64.add
      (i64.mul
        (i64.xor (local.get $h) (call $round (i64.const 0) (local.get $v)))
        (global.get $P1))
      (global.get $P4)))

  ;; XXH64 (seed 0) of the window's bytes [$start, $end).
  (func $hash (export "hash") (param $start i32) (param $end i32) (result i64)
    (local $p i32) (local $e i32) (local $limit i32) (local $h i64)
    (local $v1 i64) (local $v2 i64) (local $v3 i64) (local $v4 i64)
    (local.set $p (i32.add (global.get $WIN) (local.get $start)))
    (local.set $e (i32.add (global.get $WIN) (local.get $end)))
    (if (i32.ge_u (i32.sub (local.get $end) (local.get $start)) (i32.const 32))
      (then
        (local.set $limit (i32.sub (local.get $e) (i32.const 32)))
        (local.set $v1 (i64.add (global.get $P1) (global.get $P2)))
        (local.set $v2 (global.get $P2))
        (local.set $v4 (i64.sub (i64.const 0) (global.get $P1)))
        (loop $stripes
          (local.set $v1 (call $round (local.get $v1) (i64.load (local.get $p))))
          (local.set $v2 (call $round (local.get $v2) (i64.load offset=8 (local.get $p))))
          (local.set $v3 (call $round (local.get $v3) (i64.load offset=16 (local.get $p))))
          (local.set $v4 (call $round (local.get $v4) (i64.load offset=24 (local.get $p))))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (br_if $stripes (i32.le_u (local.get $p) (local.get $limit))))
        (local.set $h
          (i64.add
            (i64.add (i64.rotl (local.get $v1) (i64.const 1))
              (i64.rotl (local.get $v2) (i64.const 7)))
            (i64.add (i64.rotl (local.get $v3) (i64.const 12))
              (i64.rotl (local.get $v4) (i64.const 18)))))
        (local.set $h (call $merge (local.get $h) (local.get $v1)))
        (local.set $h (call $merge (local.get $h) (local.get $v2)))
        (local.set $h (call $merge (local.get $h) (local.get $v3)))
        (local.set $h (call $merge (local.get $h) (local.get $v4))))
      (else (local.set $h (global.get $P5))))
    (local.set $h
      (i64.add (local.get $h)
        (i64.extend_i32_u (i32.sub (local.get $end) (local.get $start)))))
    (block $words_done
      (loop $words
        (br_if $words_done
          (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $e)))
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl
                (i64.xor (local.get $h)
                  (call $round (i64.const 0) (i64.load (local.get $p))))
                (i64.const 27))
              (global.get $P1))
            (global.get $P4)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $words)))
    (if (i32.le_u (i32.add (local.get $p) (i32.const 4)) (local.get $e))
      (then
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl
                (i64.xor (local.get $h)
                  (i64.mul (i64.load32_u (local.get $p)) (global.get $P1)))
                (i64.const 23))
              (global.get $P2))
            (global.get $P3)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))))
    (block $bytes_done
      (loop $bytes
        (br_if $bytes_done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $h
          (i64.mul
            (i64.rotl
              (i64.xor (local.get $h)
                (i64.mul (i64.load8_u (local.get $p)) (global.get $P5)))
              (i64.const 11))
            (global.get $P1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $bytes)))
    (local.set $h
      (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33)))
        (global.get $P2)))
    (local.set $h
      (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29)))
        (global.get $P3)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))

  ;; Cuts and hashes the chunks of [$start, $end) from $start on, writing
  ;; each one's end and hash at OUT, until no boundary can be told yet (or
  ;; $end, with $last). Returns how many it wrote.
  (func (export "scan") (param $start i32) (param $end i32) (param $last i32)
    (result i32)
    (local $count i32) (local $next i32) (local $out i32)
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $start) (local.get $end)))
        (local.set $next (call $cut (local.get $start) (local.get $end) (local.get $last)))
        (br_if $done (i32.lt_s (local.get $next) (i32.const 0)))
        (local.set $out
          (i32.add (global.get $OUT) (i32.shl (local.get $count) (i32.const 4))))
        (i32.store (local.get $out) (local.get $next))
        (i64.store offset=8 (local.get $out)
          (call $hash (local.get $start) (local.get $next)))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (local.set $start (local.get $next))
        (br $chunks)))
    (local.get $count)))
