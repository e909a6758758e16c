package dcv

import "fmt"

var sprintf = fmt.Sprintf
