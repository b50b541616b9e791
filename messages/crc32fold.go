package messages

// A compressed SSE stream's trailer needs the CRC-32 (IEEE) of everything
// the connection sent, but its messages are shared blocks compressed once:
// reading each message again per connection would cost what encode-once
// saves. CRC arithmetic gives it from the blocks' own CRCs: the CRC of A
// followed by B is crc(A)·x^(8·len(B)) + crc(B) modulo the polynomial
// (zlib's crc32_combine, rewritten here since hash/crc32 has none). Each
// block keeps its x^(8·len) (crcShift), so a connection folds it in with
// one multiplication (GzipStream.Add).

// crcShift is x^(8n) modulo the polynomial: the factor that moves a CRC
// past n more bytes.
func crcShift(n uint64) uint32 { return x2nModP(n, 3) }

// crcPoly is the IEEE polynomial, reflected.
const crcPoly = 0xedb88320

// multModP multiplies a and b modulo the polynomial (reflected bit order).
func multModP(a, b uint32) uint32 {
	m := uint32(1) << 31
	var p uint32
	for {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				return p
			}
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ crcPoly
		} else {
			b >>= 1
		}
	}
}

// x2nTable[n] is x^(2^n) modulo the polynomial.
var x2nTable = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	for n := range t {
		t[n] = p
		p = multModP(p, p)
	}
	return t
}()

// x2nModP is x^(n * 2^k) modulo the polynomial.
func x2nModP(n uint64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for n != 0 {
		if n&1 != 0 {
			p = multModP(x2nTable[k&31], p)
		}
		n >>= 1
		k++
	}
	return p
}
