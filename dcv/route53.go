package dcv

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Route53 publishes records in an Amazon Route 53 hosted zone, with
// credentials from the AWS SDK's default chain (environment, shared
// files, instance role). Route 53 changes whole record sets, so Present
// reads the set at the name and, in one atomic change batch, DELETEs it
// exactly as read and CREATEs it with the value added; CleanUp does the
// same with the value removed (or DELETEs the set when the value was its
// only record). A set changed meanwhile makes the batch fail rather than
// lose the change. The IAM policy needs route53:ListResourceRecordSets and
// route53:ChangeResourceRecordSets on the hosted zone.
type Route53 struct {
	HostedZoneID string
	// Region defaults to us-east-1 (Route 53 is global).
	Region string
	// Endpoint overrides the API's base URL ("" for AWS's).
	Endpoint string

	once   sync.Once
	client *route53.Client
	err    error
}

func (p *Route53) api(ctx context.Context) (*route53.Client, error) {
	p.once.Do(func() {
		region := p.Region
		if region == "" {
			region = "us-east-1"
		}
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			p.err = fmt.Errorf("route53: loading AWS credentials: %w", err)
			return
		}
		p.client = route53.NewFromConfig(cfg, func(o *route53.Options) {
			if p.Endpoint != "" {
				o.BaseEndpoint = aws.String(p.Endpoint)
			}
		})
	})
	return p.client, p.err
}

// Present adds r to the record set at its name.
func (p *Route53) Present(ctx context.Context, r Record) error {
	return p.change(ctx, r, true)
}

// CleanUp removes r from the record set at its name.
func (p *Route53) CleanUp(ctx context.Context, r Record) error {
	return p.change(ctx, r, false)
}

func r53Value(r Record) string {
	if r.Type == TypeTXT {
		return `"` + r.Value + `"`
	}
	return r.Value + "."
}

// change adds r to (add) or removes it from the record set at its name
// in one change batch; it does nothing when r is already there or gone.
func (p *Route53) change(ctx context.Context, r Record, add bool) error {
	if r.Type == TypeHTTP {
		return fmt.Errorf("route53: cannot publish %s", r)
	}
	c, err := p.api(ctx)
	if err != nil {
		return err
	}
	cur, err := p.current(ctx, c, r)
	if err != nil {
		return fmt.Errorf("route53: %s %s: reading the record set: %w", verb(add), r, err)
	}
	value := r53Value(r)
	var values []string
	if cur != nil {
		for _, rr := range cur.ResourceRecords {
			values = append(values, aws.ToString(rr.Value))
		}
	}
	if add == slices.Contains(values, value) {
		return nil // already there, or already gone
	}
	var next []string
	if add {
		if r.Type == TypeCNAME && cur != nil {
			return fmt.Errorf("route53: adding %s: a CNAME to %s is there already; certform never replaces a record it did not write", r, strings.Join(values, ", "))
		}
		next = append(values, value)
	} else {
		next = slices.DeleteFunc(slices.Clone(values), func(v string) bool { return v == value })
	}
	_, err = c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(p.HostedZoneID),
		ChangeBatch: &types.ChangeBatch{Comment: aws.String("certform domain validation"), Changes: r53Changes(r, cur, next)}})
	if err != nil {
		return fmt.Errorf("route53: %s %s: %w", verb(add), r, err)
	}
	return nil
}

// current reads the record set of r's name and type, nil when there is
// none.
func (p *Route53) current(ctx context.Context, c *route53.Client, r Record) (*types.ResourceRecordSet, error) {
	rtype := types.RRType(r.Type)
	out, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(p.HostedZoneID), StartRecordName: aws.String(r.Name + "."), StartRecordType: rtype, MaxItems: aws.Int32(1)})
	if err != nil {
		return nil, err
	}
	if len(out.ResourceRecordSets) > 0 {
		s := out.ResourceRecordSets[0]
		if strings.EqualFold(strings.TrimSuffix(aws.ToString(s.Name), "."), r.Name) && s.Type == rtype {
			return &s, nil
		}
	}
	return nil, nil
}

// r53Changes is the change batch that replaces the set cur (nil for none)
// at r's name by one holding the values next (none: the set is only
// deleted), with cur's TTL or RecordTTL.
func r53Changes(r Record, cur *types.ResourceRecordSet, next []string) []types.Change {
	var changes []types.Change
	if cur != nil {
		changes = append(changes, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: cur})
	}
	if len(next) == 0 {
		return changes
	}
	set := types.ResourceRecordSet{Name: aws.String(r.Name + "."), Type: types.RRType(r.Type), TTL: aws.Int64(RecordTTL)}
	if cur != nil && cur.TTL != nil {
		set.TTL = cur.TTL
	}
	for _, v := range next {
		set.ResourceRecords = append(set.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
	}
	return append(changes, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: &set})
}
