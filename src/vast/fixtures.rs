//! Partner documents as they arrive: shapes taken from what audio and video SSPs send.

/// VAST 4.2 audio InLine: two Impressions, no VideoClicks, a 640×640 companion with its own
/// TrackingEvents (which must not get the Linear's trackers).
pub const AUDIO_42: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<VAST version="4.2" xmlns="http://www.iab.com/VAST">
  <Ad id="aud-7781" adType="audio" sequence="1">
    <InLine>
      <AdSystem version="2.1">SoundSSP</AdSystem>
      <Error><![CDATA[https://err.soundssp.example/e?code=[ERRORCODE]&ad=7781]]></Error>
      <Impression id="ssp"><![CDATA[https://imp.soundssp.example/i?ad=7781&cb=[CACHEBUSTING]]]></Impression>
      <Impression id="dsp"><![CDATA[https://dsp.example/win?p=${AUCTION_PRICE}]]></Impression>
      <AdServingId>a1b2c3d4-7781</AdServingId>
      <AdTitle>Summer Festival 30s</AdTitle>
      <Advertiser id="adv-12">Festival Co</Advertiser>
      <Creatives>
        <Creative id="cr-1" sequence="1" adId="7781">
          <UniversalAdId idRegistry="ad-id.org">FEST0030000A</UniversalAdId>
          <Linear>
            <TrackingEvents>
              <Tracking event="start"><![CDATA[https://t.soundssp.example/start?ad=7781]]></Tracking>
              <Tracking event="complete"><![CDATA[https://t.soundssp.example/complete?ad=7781]]></Tracking>
            </TrackingEvents>
            <Duration>00:00:30.000</Duration>
            <MediaFiles>
              <MediaFile delivery="progressive" type="audio/mpeg" bitrate="128"><![CDATA[https://cdn.soundssp.example/7781/spot_128.mp3]]></MediaFile>
              <MediaFile delivery="progressive" type="audio/aac" bitrate="64">
                <![CDATA[https://cdn.soundssp.example/7781/spot_64.aac]]>
              </MediaFile>
            </MediaFiles>
          </Linear>
        </Creative>
        <Creative id="cr-2" sequence="1">
          <CompanionAds required="all">
            <Companion id="c640" width="640" height="640">
              <StaticResource creativeType="image/jpeg"><![CDATA[https://cdn.soundssp.example/7781/cover_640.jpg]]></StaticResource>
              <CompanionClickThrough><![CDATA[https://festival.example/tickets?src=audio]]></CompanionClickThrough>
              <TrackingEvents>
                <Tracking event="creativeView"><![CDATA[https://t.soundssp.example/cview?ad=7781]]></Tracking>
              </TrackingEvents>
            </Companion>
          </CompanionAds>
        </Creative>
      </Creatives>
    </InLine>
  </Ad>
</VAST>
"#;

/// VAST 3.0 video InLine, VAST 3 element order, `&amp;` in URLs outside CDATA, existing
/// TrackingEvents and VideoClicks.
pub const VIDEO_3: &str = r#"<VAST version="3.0">
 <Ad id="v-5521">
  <InLine>
   <AdSystem>VidNet</AdSystem>
   <AdTitle>Sneaker Launch 15s</AdTitle>
   <Description>Run faster</Description>
   <Error>https://err.vidnet.example/e?c=[ERRORCODE]&amp;ad=5521</Error>
   <Impression>https://imp.vidnet.example/i?ad=5521&amp;r=[CACHEBUSTING]</Impression>
   <Creatives>
    <Creative AdID="5521">
     <Linear skipoffset="00:00:05">
      <Duration>00:00:15</Duration>
      <TrackingEvents>
       <Tracking event="creativeView">https://t.vidnet.example/cv?ad=5521</Tracking>
       <Tracking event="start">https://t.vidnet.example/start?ad=5521</Tracking>
       <Tracking event="firstQuartile">https://t.vidnet.example/q1?ad=5521</Tracking>
       <Tracking event="midpoint">https://t.vidnet.example/mid?ad=5521</Tracking>
       <Tracking event="thirdQuartile">https://t.vidnet.example/q3?ad=5521</Tracking>
       <Tracking event="complete">https://t.vidnet.example/done?ad=5521</Tracking>
      </TrackingEvents>
      <VideoClicks>
       <ClickThrough>https://sneakers.example/launch?utm=video&amp;id=5521</ClickThrough>
       <ClickTracking>https://t.vidnet.example/click?ad=5521</ClickTracking>
      </VideoClicks>
      <MediaFiles>
       <MediaFile delivery="progressive" type="video/mp4" width="1280" height="720" bitrate="2500">https://cdn.vidnet.example/5521/720p.mp4</MediaFile>
       <MediaFile delivery="progressive" type="video/mp4" width="640" height="360" bitrate="800">https://cdn.vidnet.example/5521/360p.mp4</MediaFile>
       <MediaFile delivery="streaming" type="application/x-mpegURL" width="1280" height="720">https://cdn.vidnet.example/5521/master.m3u8</MediaFile>
      </MediaFiles>
     </Linear>
    </Creative>
   </Creatives>
  </InLine>
 </Ad>
</VAST>"#;

/// VAST 4.0 Wrapper: the player fetches the real ad from VASTAdTagURI; the wrapper's Linear
/// has TrackingEvents but no VideoClicks.
pub const WRAPPER_4: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<VAST version="4.0" xmlns="http://www.iab.com/VAST">
  <Ad id="w-90">
    <Wrapper followAdditionalWrappers="true" allowMultipleAds="false">
      <AdSystem>ReachX</AdSystem>
      <Error><![CDATA[https://err.reachx.example/e?c=[ERRORCODE]]]></Error>
      <Impression><![CDATA[https://imp.reachx.example/i?w=90]]></Impression>
      <VASTAdTagURI><![CDATA[https://ads.reachx.example/vast?tag=90&gdpr=1]]></VASTAdTagURI>
      <Creatives>
        <Creative>
          <Linear>
            <TrackingEvents>
              <Tracking event="firstQuartile"><![CDATA[https://t.reachx.example/q1?w=90]]></Tracking>
            </TrackingEvents>
          </Linear>
        </Creative>
      </Creatives>
    </Wrapper>
  </Ad>
</VAST>"#;

/// A two-ad pod (VAST 3.0): neither Linear has VideoClicks; the second has no TrackingEvents.
pub const TWO_ADS: &str = r#"<?xml version="1.0"?>
<!-- pod of two, sequence 1 and 2 -->
<VAST version="3.0">
  <Ad id="p1" sequence="1">
    <InLine>
      <AdSystem>PodServer</AdSystem>
      <AdTitle>First</AdTitle>
      <Impression><![CDATA[https://pod.example/imp?a=1]]></Impression>
      <Creatives><Creative><Linear>
        <Duration>00:00:20.500</Duration>
        <TrackingEvents><Tracking event="start"><![CDATA[https://pod.example/s?a=1]]></Tracking></TrackingEvents>
        <MediaFiles><MediaFile delivery="progressive" type="audio/mpeg"><![CDATA[https://pod.example/1.mp3]]></MediaFile></MediaFiles>
      </Linear></Creative></Creatives>
    </InLine>
  </Ad>
  <Ad id="p2" sequence="2">
    <InLine>
      <AdSystem>PodServer</AdSystem>
      <AdTitle>Second</AdTitle>
      <Impression><![CDATA[https://pod.example/imp?a=2]]></Impression>
      <Creatives><Creative><Linear>
        <Duration>00:00:15</Duration>
        <MediaFiles><MediaFile delivery="progressive" type="audio/mpeg"><![CDATA[https://pod.example/2.mp3]]></MediaFile></MediaFiles>
      </Linear></Creative></Creatives>
    </InLine>
  </Ad>
</VAST>"#;

pub const ALL: [&str; 4] = [AUDIO_42, VIDEO_3, WRAPPER_4, TWO_ADS];
