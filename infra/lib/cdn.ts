import { Duration, Fn } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  CachedMethods,
  CacheHeaderBehavior,
  CachePolicy,
  CacheQueryStringBehavior,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  PriceClass,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';

export interface CdnProps {
  readonly httpApi: HttpApi;
}

/** Longest time CloudFront keeps an answer; the api's Cache-Control (10 s to 5 min) decides below it. */
export const CDN_MAX_TTL = Duration.minutes(5);

/**
 * Optional (context `cloudFront=true`): a CloudFront distribution in front of the HTTP API. It caches
 * what the api marks cacheable, for as long as its `Cache-Control` says (nothing without one, at most
 * five minutes), keyed by the path, every query string and the `Origin` header (so CORS answers are
 * never served to the wrong origin). Everything else, POST /v1/events included, passes through to the
 * API with all viewer headers but Host.
 */
export class Cdn extends Construct {
  readonly distribution: Distribution;
  readonly cachePolicy: CachePolicy;

  constructor(scope: Construct, id: string, props: CdnProps) {
    super(scope, id);

    this.cachePolicy = new CachePolicy(this, 'CachePolicy', {
      comment: 'Funnel API: honour the origin Cache-Control, up to 5 minutes',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(0),
      maxTtl: CDN_MAX_TTL,
      queryStringBehavior: CacheQueryStringBehavior.all(),
      headerBehavior: CacheHeaderBehavior.allowList('Origin'),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    // https://<api id>.execute-api.<region>.amazonaws.com → the host name
    const apiDomain = Fn.select(2, Fn.split('/', props.httpApi.apiEndpoint));

    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Funnel API',
      priceClass: PriceClass.PRICE_CLASS_100,
      httpVersion: HttpVersion.HTTP2_AND_3,
      defaultBehavior: {
        origin: new HttpOrigin(apiDomain, {
          protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
          originSslProtocols: [OriginSslPolicy.TLS_V1_2],
        }),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        cachedMethods: CachedMethods.CACHE_GET_HEAD,
        cachePolicy: this.cachePolicy,
        // API Gateway answers only to its own Host name
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        compress: true,
      },
    });

    acknowledge(
      this.distribution,
      'AwsSolutions-CFR1',
      'Funnel serves public Nostr analytics to a worldwide audience; there is no country to restrict.',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR2',
      'Abuse is bounded by the API stage throttling (apiThrottleRateLimit/BurstLimit) and cached answers; a WAF web ACL (about $5/month plus $0.60 per million requests) is left to operators who need one.',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR3',
      'Requests that reach the origin are logged by the API stage access log; CloudFront standard logging needs an ACL-enabled bucket, which this stack does not create.',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR4',
      'The distribution uses the default *.cloudfront.net certificate (no custom domain is configured), whose security policy CloudFront fixes at TLSv1; a custom domain with its own certificate can set TLSv1.2_2021.',
    );
  }

  /** https://<distribution>.cloudfront.net */
  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }
}
