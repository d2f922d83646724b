"""Loanwords written in Hangul that stay readable: words of software, of project work, of this
product and of the clinic.

Korean writes English loanwords phonetically (페이지 "page", 쿼리 "query", 트리아지
"triage"), and nothing in their letters tells them from a foreign person's name: Kiwi tags
some as proper nouns because WikiData knows a person of that name (Jimmy Page: 페이지), and
does not know others at all. In the text of a Jira or Confluence space these words are
everywhere and a person's name almost never is, so they are a safe list, as the English layers
keep a project and clinical vocabulary (``compliance._lexicon``). A word is matched whole,
after its particles are cut off; a name that happens to be one of them (a Mr. Page) needs a cue
(페이지 씨) to be found.
"""

from __future__ import annotations

__all__ = ["SAFE_LOANWORDS"]

_SOFTWARE = """
    테넌트 라우팅 엔드포인트 쿠버네티스 클러스터 컨테이너 파이프라인 워크플로 워크플로우 대시보드
    스프린트 백로그 에픽 티켓 컨플루언스 지라 리포지토리 레포지토리 커밋 브랜치 머지 리베이스
    배포판 인덱스 인덱싱 쿼리 스키마 마이그레이션 롤백 로드밸런서 프록시 게이트웨이 미들웨어
    웹훅 페이로드 토큰 스냅샷 샤드 샤딩 레플리카 임베딩 벡터 프롬프트 파라미터 매개변수
    인스턴스 리전 버킷 스토리지 캐시 캐싱 세션 쿠키 프론트엔드 백엔드 풀스택 데브옵스 테라폼
    앤서블 젠킨스 깃허브 깃랩 슬랙 노션 피그마 리액트 타입스크립트 자바스크립트 파이썬 코틀린
    스칼라 러스트 고루틴 도커 도커파일 헬름 프로메테우스 그라파나 키바나 엘라스틱서치 카프카
    레디스 몽고디비 포스트그레스 다이나모 다이나모디비 람다 서버리스 오토스케일링 스케줄러 크론잡
    린트 린터 포매터 컴파일러 런타임 트랜잭션 레이턴시 스루풋 스로틀링 리트라이 타임아웃
    템플릿 플러그인 컴포넌트 모듈 라이브러리 프레임워크 플랫폼 위키 스페이스 릴리스 릴리즈
    핫픽스 패치 빌드 테스트 스크립트 콘솔 터미널 클라이언트 서버 에이전트 오케스트레이터
    페이지 링크 버튼 메뉴 탭 아이콘 필드 폼 테이블 컬럼 레코드 리스트 큐 스택 노드 그래프 차트
    로그 로깅 모니터링 알림 이벤트 메시지 이메일 메일 채널 스레드 댓글 멘션 태그 라벨 레이블
    필터 정렬 검색 소스 타깃 타겟 포맷 파일 폴더 디렉터리 경로 백업 복구 업로드 다운로드
    API 에스디케이 라이선스 라이센스 계정 어카운트 프로필 로그인 로그아웃 패스워드 비밀번호
    액세스 권한 역할 롤 그룹 유저 사용자 어드민 관리자 오너 멤버 팀 프로젝트 보드 칸반
    스토리 서브태스크 이슈 버그 리뷰 코드리뷰 풀리퀘스트 머지리퀘스트 배포 릴리즈노트 로드맵
    마일스톤 데드라인 스코프 리소스 캐파 캐파시티 용량 할당 우선순위 백필 동기화 싱크
    데이터 데이터베이스 테이블스페이스 클라우드 온프레미스 인프라 네트워크 서브넷 도메인
    호스트 포트 프로토콜 인증서 암호화 해시 키 시크릿 볼트 정책 규칙 감사 컴플라이언스
    모델 임베딩모델 트랜스포머 토크나이저 추론 학습 파인튜닝 에이아이 챗봇 어시스턴트
    레이 서브 세이지메이커 베드록 클로드 앤트로픽 오픈에이아이 지피티 라마 미스트랄
    센트리 데이터독 뉴렐릭 페이저듀티 옵스지니 스플렁크 아틀라시안 포지 로보 로보에이전트
    트위터 페이스북 유튜브 인스타그램 카카오톡 카카오 네이버 구글 애플 마이크로소프트 아마존
    넷플릭스 링크드인 왓츠앱 텔레그램 디스코드 줌 팀즈 아웃룩 엑셀 워드 파워포인트 구글독스
"""

# This product's own names: its agents and the parts users see.
_PRODUCT = """
    클리니사이트 태스크스미스 케어트랙 딜플로우 딜플로 로드맵스미스 마인드메시 마인드메쉬
"""

# Loanwords of the clinic: procedures, devices, drugs by class, units of care.
_CLINIC = """
    트리아지 카테터 인튜베이션 익스튜베이션 벤틸레이터 바이탈 오더 차팅 라운딩 드레싱 석션
    네뷸라이저 앰뷸런스 스테로이드 인슐린 헤파린 와파린 모르핀 펜타닐 프로포폴 미다졸람
    카테콜아민 도파민 노르에피네프린 에피네프린 바소프레신 아미오다론 디곡신 라식스
    엑스레이 씨티 엠알아이 초음파 에코 이케이지 심전도 모니터 펄스옥시미터 산소포화도
    케어 케어플랜 케이스 케이스매니저 소셜워커 리햅 재활 호스피스 널싱홈 요양원 클리닉
    센터 병동 아이씨유 중환자실 응급실 외래 수술실 회복실 카운슬링 컨설트 컨퍼런스 미팅
    프로토콜 가이드라인 체크리스트 인시던트 리포트 에스컬레이션 핸드오프 핸드오버 인계
"""

SAFE_LOANWORDS = frozenset((_SOFTWARE + _PRODUCT + _CLINIC).split())
