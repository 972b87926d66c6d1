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
  KeyMap() : m_slots(1024) {}

  const V* find(Key k) const { return const_cast<KeyMap*>(this)->find(k); }

  V* find(Key k)
  {
    for (std::size_t i = home(k);; i = (i + 1) & mask()) {
      Slot& s = m_slots[i];
      if (s.key == k)
        return &s.value;
      if (s.key.tag == 0)
        return nullptr;
    }
  }

  /// The value of k, default-constructed when k was absent.
  V& operator[](Key k)
  {
    if ((m_size + 1) * 4 > m_slots.size() * 3)
      grow();
    std::size_t i = home(k);
    for (;; i = (i + 1) & mask()) {
      Slot& s = m_slots[i];
      if (s.key == k)
        return s.value;
      if (s.key.tag == 0)
        break;
    }
    ++m_size;
    m_slots[i].key = k;
    return m_slots[i].value;
  }

  void erase(Key k)
  {
    std::size_t i = home(k);
    for (;; i = (i + 1) & mask()) {
      if (m_slots[i].key == k)
        break;
      if (m_slots[i].key.tag == 0)
        return;
    }
    // Pull back the entries after the hole that may not sit behind it.
    for (std::size_t j = (i + 1) & mask();; j = (j + 1) & mask()) {
      Slot& s = m_slots[j];
      if (s.key.tag == 0)
        break;
      std::size_t h = home(s.key);
      if (((j - h) & mask()) >= ((j - i) & mask())) {
        m_slots[i] = std::move(s);
        i = j;
      }
    }
    m_slots[i] = Slot();
    --m_size;
  }

  std::size_t size() const { return m_size; }

  template <class F> void for_each(F f)
  {
    for (auto& s : m_slots)
      if (s.key.tag)
        f(s.key, s.value);
  }

private:
  struct Slot {
    Key key;
    V value{};
  };
  std::size_t mask() const { return m_slots.size() - 1; }
  std::size_t home(Key k) const { return std::size_t(key_hash(k)) & mask(); }
  void grow()
  {
    std::vector<Slot> old(m_slots.size() * 2);
    old.swap(m_slots);
    m_size = 0;
    for (auto& s : old)
      if (s.key.tag)
        (*this)[s.key] = std::move(s.value);
  }

  std::vector<Slot> m_slots;
  std::size_t m_size = 0;
};

} // namespace fsc::trace
