// key_map.hpp - the table refs keeps its counters in, keyed by a counter's
// type and id as numbers: millions of trace lines look it up, and cookies
// come and go all the time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace fsc::trace {

/// A counter id: its hex value, or the index of its normal text.
struct Id {
  std::uint64_t v = 0;
  bool text = false;
  bool operator==(const Id&) const = default;
};

/// A counter: type ('c', 'o', 'V') and id. tag == 0 marks a free slot.
struct Key {
  std::uint64_t v = 0;
  std::uint32_t tag = 0;
  Key() = default;
  Key(char type, Id id)
      : v(id.v), tag(std::uint32_t(std::uint8_t(type)) | (id.text ? 256 : 0))
  {
  }
  bool operator==(const Key&) const = default;
};

/// All bits of a key mixed into the low ones, which pick its slot.
std::uint64_t key_hash(Key k);

/// Open addressing with linear probing and backward-shift deletion: no
/// allocation per insert, no tombstones, for maps whose keys come and go.
/// Pointers to values stay valid until the next insert or erase.
template <class V> class KeyMap {
public:
  KeyMap() : m_keys(1024), m_values(1024) {}

  const V* find(Key k) const { return const_cast<KeyMap*>(this)->find(k); }

  V* find(Key k)
  {
    for (std::size_t i = home(k);; i = (i + 1) & mask()) {
      if (m_keys[i] == k)
        return &m_values[i];
      if (m_keys[i].tag == 0)
        return nullptr;
    }
  }

  V& operator[](Key k)
  {
    if ((m_size + 1) * 4 > m_keys.size() * 3)
      grow();
    std::size_t i = home(k);
    for (;; i = (i + 1) & mask()) {
      if (m_keys[i] == k)
        return m_values[i];
      if (m_keys[i].tag == 0)
        break;
    }
    ++m_size;
    m_keys[i] = k;
    return m_values[i];
  }

  void erase(Key k)
  {
    std::size_t i = home(k);
    for (;; i = (i + 1) & mask()) {
      if (m_keys[i] == k)
        break;
      if (m_keys[i].tag == 0)
        return;
    }
    // Backward shift: later keys of the run move into the hole when their
    // home lets them, so that no tombstones are needed.
    for (std::size_t j = (i + 1) & mask();; j = (j + 1) & mask()) {
      if (m_keys[j].tag == 0)
        break;
      std::size_t h = home(m_keys[j]);
      if (((j - h) & mask()) >= ((j - i) & mask())) {
        m_keys[i] = m_keys[j];
        m_values[i] = std::move(m_values[j]);
        i = j;
      }
    }
    m_keys[i] = Key();
    m_values[i] = V();
    --m_size;
  }

  std::size_t size() const { return m_size; }

  template <class F> void for_each(F f)
  {
    for (std::size_t i = 0; i < m_keys.size(); ++i)
      if (m_keys[i].tag)
        f(m_keys[i], m_values[i]);
  }

private:
  // Keys apart from the values: a probe reads a run of 16-byte keys, four
  // to a cache line, and touches a value only where it stops.
  std::size_t mask() const { return m_keys.size() - 1; }
  std::size_t home(Key k) const { return std::size_t(key_hash(k)) & mask(); }
  void grow()
  {
    std::vector<Key> keys(m_keys.size() * 2);
    std::vector<V> values(m_keys.size() * 2);
    keys.swap(m_keys);
    values.swap(m_values);
    m_size = 0;
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (keys[i].tag)
        (*this)[keys[i]] = std::move(values[i]);
  }

  std::vector<Key> m_keys;
  std::vector<V> m_values;
  std::size_t m_size = 0;
};

} // namespace fsc::trace
