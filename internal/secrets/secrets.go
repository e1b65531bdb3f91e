// Package secrets fetches the secrets the extension is configured to take
// from AWS Secrets Manager (keys, tokens), with the function's own
// credentials: the AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN that Lambda sets. Values are cached and never logged;
// TLS certificates are verified.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Resolver fetches secrets by ARN. It is safe for concurrent use and
// fetches nothing until Get.
type Resolver struct {
	lookup func(string) (string, bool)

	mu    sync.Mutex
	cache map[string][]byte
}

// New returns a resolver reading credentials and endpoints through lookup
// (os.LookupEnv in production). AWS_ENDPOINT_URL_SECRETS_MANAGER overrides
// the endpoint, as in the AWS SDKs.
func New(lookup func(string) (string, bool)) *Resolver {
	return &Resolver{lookup: lookup, cache: map[string][]byte{}}
}

// Get returns the value of the secret with the given ARN (its
// SecretString, or SecretBinary), fetching it once.
func (r *Resolver) Get(ctx context.Context, arn string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.cache[arn]; ok {
		return v, nil
	}
	region, err := RegionOf(arn)
	if err != nil {
		return nil, err
	}
	opts := secretsmanager.Options{Region: region, Credentials: aws.CredentialsProviderFunc(r.credentials)}
	if ep, ok := r.lookup("AWS_ENDPOINT_URL_SECRETS_MANAGER"); ok && ep != "" {
		opts.BaseEndpoint = aws.String(ep)
	}
	out, err := secretsmanager.New(opts).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("secrets: %s: %w", arn, err)
	}
	var v []byte
	switch {
	case out.SecretString != nil:
		v = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		v = out.SecretBinary
	default:
		return nil, fmt.Errorf("secrets: %s has no value", arn)
	}
	r.cache[arn] = v
	return v, nil
}

// credentials are the function's role credentials, from the environment.
func (r *Resolver) credentials(context.Context) (aws.Credentials, error) {
	id, _ := r.lookup("AWS_ACCESS_KEY_ID")
	key, _ := r.lookup("AWS_SECRET_ACCESS_KEY")
	token, _ := r.lookup("AWS_SESSION_TOKEN")
	if id == "" || key == "" {
		return aws.Credentials{}, errors.New("no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	}
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: key, SessionToken: token, Source: "environment"}, nil
}

// RegionOf returns the region of a Secrets Manager ARN, and an error for
// anything that is not one.
func RegionOf(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "secretsmanager" || parts[3] == "" || parts[5] != "secret" || parts[6] == "" {
		return "", fmt.Errorf("secrets: %q is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)", arn)
	}
	return parts[3], nil
}
