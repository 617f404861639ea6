;; JSON string escaping of UTF-8 bytes, as JSON.stringify escapes the decoded text: only quotes, backslashes and
;; control characters are escaped (all ASCII), so every other byte, multi-byte characters included, is copied.
;; Compiled to json-escape.wasm by `npm run build:wasm`; json-escape.ts loads it (why: see there).
(module
  (memory (export "memory") 1)
  ;; Bytes 0-255: what each byte becomes. 0: itself; 1: a backslash and itself; 0x75 ('u'): \u00XX; any other
  ;; letter: a backslash and that letter (\b \t \n \f \r).
  (data (i32.const 0)
    "\75\75\75\75\75\75\75\75\62\74\6e\75\66\72\75\75\75\75\75\75\75\75\75\75\75\75\75\75\75\75\75\75\00\00\01")
  (data (i32.const 92) "\01")
  ;; Bytes 256-271: lower-case hex digits, for \u00XX.
  (data (i32.const 256) "0123456789abcdef")

  ;; Writes memory[from, to) at `out` as a quoted JSON string; returns where the string ends. The caller leaves
  ;; room for 6 bytes per input byte plus 2.
  (func (export "quote") (param $from i32) (param $to i32) (param $out i32) (result i32)
    (local $byte i32)
    (local $code i32)
    (i32.store8 (local.get $out) (i32.const 34))
    (local.set $out (i32.add (local.get $out) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $from) (local.get $to)))
        (local.set $byte (i32.load8_u (local.get $from)))
        (local.set $from (i32.add (local.get $from) (i32.const 1)))
        (local.set $code (i32.load8_u (local.get $byte)))
        (if (i32.eqz (local.get $code))
          (then
            (i32.store8 (local.get $out) (local.get $byte))
            (local.set $out (i32.add (local.get $out) (i32.const 1)))
            (br $next)))
        (i32.store8 (local.get $out) (i32.const 92))
        (if (i32.eq (local.get $code) (i32.const 1))
          (then
            (i32.store8 offset=1 (local.get $out) (local.get $byte))
            (local.set $out (i32.add (local.get $out) (i32.const 2)))
            (br $next)))
        (if (i32.eq (local.get $code) (i32.const 0x75))
          (then
            (i32.store8 offset=1 (local.get $out) (i32.const 0x75))
            (i32.store8 offset=2 (local.get $out) (i32.const 48))
            (i32.store8 offset=3 (local.get $out) (i32.const 48))
            (i32.store8 offset=4 (local.get $out)
              (i32.load8_u offset=256 (i32.shr_u (local.get $byte) (i32.const 4))))
            (i32.store8 offset=5 (local.get $out)
              (i32.load8_u offset=256 (i32.and (local.get $byte) (i32.const 15))))
            (local.set $out (i32.add (local.get $out) (i32.const 6)))
            (br $next)))
        (i32.store8 offset=1 (local.get $out) (local.get $code))
        (local.set $out (i32.add (local.get $out) (i32.const 2)))
        (br $next)))
    (i32.store8 (local.get $out) (i32.const 34))
    (i32.add (local.get $out) (i32.const 1))))
