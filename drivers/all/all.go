package all

import (
	// Every driver registers itself in init.
	_ "github.com/tagbridge/tagbridge/drivers/modbus"
	_ "github.com/tagbridge/tagbridge/drivers/mtconnect"
	_ "github.com/tagbridge/tagbridge/drivers/sim"
)
