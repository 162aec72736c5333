package uaserver

import (
	"net"
	"net/url"
	"strings"

	"github.com/gopcua/opcua/ua"
)

const transportProfile = "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary"

// Token policy ids clients send back in ActivateSession.
const (
	policyAnonymous = "anonymous"
	policyUserName  = "username"
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
	var tokens []*ua.UserTokenPolicy
	if s.opt.Anonymous != "off" {
		tokens = append(tokens, &ua.UserTokenPolicy{PolicyID: policyAnonymous, TokenType: ua.UserTokenTypeAnonymous})
	}
	if len(s.opt.Users) > 0 {
		tokens = append(tokens, &ua.UserTokenPolicy{
			PolicyID: policyUserName, TokenType: ua.UserTokenTypeUserName, SecurityPolicyURI: ua.SecurityPolicyURINone,
		})
	}
	return []*ua.EndpointDescription{{
		EndpointURL: ep, Server: s.appDescription(), SecurityMode: ua.MessageSecurityModeNone,
		SecurityPolicyURI: ua.SecurityPolicyURINone, UserIdentityTokens: tokens,
		TransportProfileURI: transportProfile, SecurityLevel: 0,
	}}
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
