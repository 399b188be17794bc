package isolate

// RaceEnabled tells tests whether the address-space limit applies.
const RaceEnabled = raceEnabled
