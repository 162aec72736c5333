package uaserver

import (
	"net"
	"net/url"
	"strings"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uapolicy"
)

const transportProfile = "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary"

// Token policy ids clients send back in ActivateSession.
const (
	policyAnonymous = "anonymous"
	policyUserName  = "username"
	policyX509      = "x509"
)

func (s *Server) appDescription() *ua.ApplicationDescription {
	return &ua.ApplicationDescription{
		ApplicationURI: s.opt.ApplicationURI, ProductURI: "urn:tagbridge",
		ApplicationName: ua.NewLocalizedText(s.opt.ProductName), ApplicationType: ua.ApplicationTypeServer,
		DiscoveryURLs: []string{s.EndpointURL()},
	}
}

// endpointsFor lists our endpoints with URLs on the host the client used
// (when it reached our port), so a client that connected to localhost or to
// an IP gets endpoints it can reach. A trailing '/' or path is ignored.
func (s *Server) endpointsFor(reqURL string) []*ua.EndpointDescription {
	ep := s.EndpointURL()
	if u, err := url.Parse(strings.TrimSpace(reqURL)); err == nil && u.Scheme == "opc.tcp" && u.Host != "" {
		if _, port, err := net.SplitHostPort(u.Host); err == nil && s.Addr() != nil {
			if _, ours, _ := net.SplitHostPort(s.Addr().String()); port == ours {
				ep = "opc.tcp://" + u.Host
			}
		}
	}
	eps := make([]*ua.EndpointDescription, 0, len(s.sec.endpoints))
	for _, e := range s.sec.endpoints {
		eps = append(eps, &ua.EndpointDescription{
			EndpointURL: ep, Server: s.appDescription(), ServerCertificate: s.sec.cert(),
			SecurityMode: e.mode, SecurityPolicyURI: e.uri, UserIdentityTokens: s.tokenPolicies(e),
			TransportProfileURI: transportProfile, SecurityLevel: uapolicy.SecurityLevel(e.uri, e.mode),
		})
	}
	return eps
}

// tokenPolicies lists the user tokens an endpoint accepts. On a secure
// endpoint tokens use the channel's policy; on None they name the strongest
// configured secure policy, so passwords are encrypted with our certificate
// even there (only with None alone do they travel in clear text).
func (s *Server) tokenPolicies(e secPolicy) []*ua.UserTokenPolicy {
	uri := s.sec.userTokenURI(e.uri)
	var tokens []*ua.UserTokenPolicy
	if s.opt.Anonymous != "off" {
		tokens = append(tokens, &ua.UserTokenPolicy{PolicyID: policyAnonymous, TokenType: ua.UserTokenTypeAnonymous})
	}
	if hasPasswords(s.opt.Users) {
		tokens = append(tokens, &ua.UserTokenPolicy{PolicyID: policyUserName, TokenType: ua.UserTokenTypeUserName, SecurityPolicyURI: uri})
	}
	if hasThumbprints(s.opt.Users) && uri != ua.SecurityPolicyURINone {
		tokens = append(tokens, &ua.UserTokenPolicy{PolicyID: policyX509, TokenType: ua.UserTokenTypeCertificate, SecurityPolicyURI: uri})
	}
	return tokens
}

func (s *Server) getEndpoints(r *ua.GetEndpointsRequest) ua.Response {
	eps := s.endpointsFor(r.EndpointURL)
	if len(r.ProfileURIs) > 0 {
		match := false
		for _, p := range r.ProfileURIs {
			match = match || p == transportProfile
		}
		if !match {
			eps = []*ua.EndpointDescription{}
		}
	}
	return &ua.GetEndpointsResponse{ResponseHeader: respHeader(r, ua.StatusOK), Endpoints: eps}
}

func (s *Server) findServers(r *ua.FindServersRequest) ua.Response {
	servers := []*ua.ApplicationDescription{s.appDescription()}
	if len(r.ServerURIs) > 0 {
		match := false
		for _, u := range r.ServerURIs {
			match = match || u == s.opt.ApplicationURI
		}
		if !match {
			servers = []*ua.ApplicationDescription{}
		}
	}
	return &ua.FindServersResponse{ResponseHeader: respHeader(r, ua.StatusOK), Servers: servers}
}
