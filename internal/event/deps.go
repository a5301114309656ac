package event
import (
 _ "github.com/ua-parser/uap-go/uaparser"
 _ "github.com/oschwald/maxminddb-golang/v2"
 _ "github.com/maxmind/mmdbwriter"
)
