"""The real area codes the tests use, as services/data/areas.csv (the seed) has them."""

ENGLAND = "E92000001"
NORTH_EAST_AND_YORKSHIRE = "E40000012"  # region of the next two ICBs

WEST_YORKSHIRE = "E54000054"  # ICB
NORTH_EAST_AND_NORTH_CUMBRIA = "E54000050"  # another ICB in the same region
CORNWALL_ICB = "E54000036"  # Cornwall and the Isles of Scilly: two places, South West

LEEDS = "E08000035"  # a place in West Yorkshire ICB
BRADFORD = "E08000032"  # another place in West Yorkshire ICB
CALDERDALE = "E08000033"  # a third
KIRKLEES = "E08000034"  # a fourth
WAKEFIELD = "E08000036"  # the fifth
WEST_YORKSHIRE_PLACES = {BRADFORD, CALDERDALE, KIRKLEES, LEEDS, WAKEFIELD}
CORNWALL = "E06000052"  # a place in another ICB and region
SCILLY = "E06000053"  # Cornwall's ICB's other place
