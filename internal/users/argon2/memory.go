package argon2

// Memory is a block array reused from one key derivation to the next: for
// one goroutine at a time (a hashing worker). It keeps at most retainKiB;
// a derivation asking for more works in fresh memory that is not kept, so
// that one odd stored hash cannot pin a large array for the worker's life.
// A nil *Memory allocates for every derivation, as x/crypto does.
type Memory struct {
	retainKiB uint32
	b         []block
}

// NewMemory returns a Memory keeping up to retainKiB (allocated at its
// first use).
func NewMemory(retainKiB uint32) *Memory { return &Memory{retainKiB: retainKiB} }

// blocks returns n blocks (n KiB) to work in: m's own if n fits.
func (m *Memory) blocks(n uint32) []block {
	if m == nil || n > m.retainKiB {
		return make([]block, n)
	}
	if uint32(len(m.b)) < n {
		m.b = make([]block, m.retainKiB)
	}
	return m.b[:n]
}

// Key is the package's Key working in m.
func (m *Memory) Key(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return deriveKey(m, argon2i, password, salt, nil, nil, time, memory, threads, keyLen)
}

// IDKey is the package's IDKey working in m.
func (m *Memory) IDKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return deriveKey(m, argon2id, password, salt, nil, nil, time, memory, threads, keyLen)
}
