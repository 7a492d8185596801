;; The gear-hash boundary finder of gear.ts as a WebAssembly module, about
;; twice as fast as the JavaScript loop here. Built with wabt's
;; `wat2wasm gear.wat -o gear.wasm`; the bytes are inlined in gear_wasm.ts.
;;
;; Memory: the 256-entry gear table (i32, little-endian) at 0, the caller's
;; data window from byte 1024 on. `cut(start, end, last)` takes positions in
;; the window and returns what chunkEnd in gear.ts returns.
(module
  (memory (export "memory") 65)
  (func (export "cut") (param $start i32) (param $end i32) (param $last i32)
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
        (br_if $small_done (i32.ge_u (local.get $i) (local.get $normal)))
        (local.set $h
          (i32.add
            (i32.shl (local.get $h) (i32.const 1))
            (i32.load
              (i32.shl (i32.load8_u offset=1024 (local.get $i)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $small (i32.and (local.get $h) (i32.const 0xfffe0000)))
        (return (local.get $i))))
    (block $large_done
      (loop $large
        (br_if $large_done (i32.ge_u (local.get $i) (local.get $stop)))
        (local.set $h
          (i32.add
            (i32.shl (local.get $h) (i32.const 1))
            (i32.load
              (i32.shl (i32.load8_u offset=1024 (local.get $i)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $large (i32.and (local.get $h) (i32.const 0xffe00000)))
        (return (local.get $i))))
    (if (i32.eq (local.get $stop) (i32.add (local.get $start) (i32.const 65536)))
      (then (return (local.get $stop))))
    (if (result i32) (local.get $last)
      (then (local.get $end))
      (else (i32.const -1)))))
