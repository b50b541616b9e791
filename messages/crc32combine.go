package messages

// crc32Combine returns the CRC-32 (IEEE) of A followed by B from the CRCs of
// A and B and the length of B, in O(log len2): a compressed SSE stream folds
// each shared block's precomputed CRC into its own without reading the
// message again. It is zlib's crc32_combine (multiplication modulo the CRC
// polynomial, with x^(2^n) precomputed), rewritten here since hash/crc32
// has none.
func crc32Combine(crc1, crc2 uint32, len2 uint64) uint32 {
	return multModP(x2nModP(len2, 3), crc1) ^ crc2
}

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
