// test_key_map.cpp - the open-addressing table of refs: keys kept apart by
// type and text flag, erase by backward shift, growth.
#include <catch2/catch.hpp>

#include <fsc/trace/key_map.hpp>

#include <map>

using namespace fsc::trace;

TEST_CASE("KeyMap: a type or a text id is another key", "[trace][key_map]")
{
  KeyMap<int> m;
  m[Key('c', Id{0x10, false})] = 1;
  m[Key('o', Id{0x10, false})] = 2;
  m[Key('c', Id{0x10, true})] = 3;
  CHECK(m.size() == 3);
  CHECK(*m.find(Key('c', Id{0x10, false})) == 1);
  CHECK(*m.find(Key('o', Id{0x10, false})) == 2);
  CHECK(*m.find(Key('c', Id{0x10, true})) == 3);
  CHECK(m.find(Key('V', Id{0x10, false})) == nullptr);
  m.erase(Key('V', Id{0x10, false})); // absent: nothing happens
  CHECK(m.size() == 3);
}

TEST_CASE("KeyMap: growing and erasing keep every other key findable",
          "[trace][key_map]")
{
  // Kernel pointers: 256-byte apart objects in one slab, so many keys share
  // their low bits and probe runs are long.
  auto ptr = [](std::uint64_t i) { return 0xffff91ce827b0000u + i * 256; };
  KeyMap<std::uint64_t> m;
  std::map<std::uint64_t, std::uint64_t> want;
  for (std::uint64_t i = 0; i < 5000; ++i) {
    m[Key('o', Id{ptr(i), false})] = i;
    want[ptr(i)] = i;
  }
  REQUIRE(m.size() == 5000); // grew from 1024 slots on the way
  for (std::uint64_t i = 0; i < 5000; i += 3) {
    m.erase(Key('o', Id{ptr(i), false}));
    want.erase(ptr(i));
  }
  CHECK(m.size() == want.size());
  std::size_t wrong = 0;
  for (std::uint64_t i = 0; i < 5000; ++i) {
    const std::uint64_t* v = m.find(Key('o', Id{ptr(i), false}));
    auto w = want.find(ptr(i));
    if (w == want.end() ? v != nullptr : (!v || *v != w->second))
      ++wrong;
  }
  CHECK(wrong == 0);
  std::size_t seen = 0;
  m.for_each([&](Key k, std::uint64_t& v) {
    ++seen;
    CHECK(want.at(k.v) == v);
  });
  CHECK(seen == want.size());
}
