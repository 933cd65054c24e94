import Rooms

let arena = try Arena(ArenaConfiguration(rooms: 2, pagesPerRoom: 4096))
print(arena.layout)
